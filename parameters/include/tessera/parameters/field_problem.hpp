// A cross-field inconsistency found in a config struct (e.g. g_min >= g_max): which field
// to point at and why. Structs that can be inconsistent define
//   std::optional<FieldProblem> consistency_problem() const;
#pragma once

#include <string>

namespace tessera::parameters {

struct FieldProblem {
  std::string field;    ///< the field the message points at
  std::string message;  ///< what is wrong, e.g. "g_min (30) must be below g_max (25)"
};

}  // namespace tessera::parameters
