// The seed of statistical tests: fixed by default, overridable with TESSERA_TEST_SEED, and
// printed with every failure (SCOPED_TRACE) so a failing draw can be replayed.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace tessera::testing {

inline std::uint64_t test_seed() {
  if (const char* text = std::getenv("TESSERA_TEST_SEED")) return std::strtoull(text, nullptr, 10);
  return 20261122;
}

inline std::string seed_note() { return "TESSERA_TEST_SEED=" + std::to_string(test_seed()); }

}  // namespace tessera::testing
