// expect_error<E>(action, part): the action must throw E whose message contains `part`, so a
// refusal is checked for its reason, not only its type.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tessera::testing {

template <class Error, class Action>
void expect_error(Action action, std::string_view part) {
  try {
    action();
    ADD_FAILURE() << "nothing was thrown; expected an error containing: " << part;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(part), std::string::npos)
        << "message: " << error.what() << "\nexpected to contain: " << part;
  }
}

}  // namespace tessera::testing
