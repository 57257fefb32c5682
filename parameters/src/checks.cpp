#include "tessera/parameters/checks.hpp"

#include <sstream>

namespace tessera::parameters {
std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string Check::describe(bool integer) const {
  const std::string kind = integer ? "an integer" : "a number";
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  std::string text;
  if (has_min && has_max) {
    text = kind + " in [" + format_number(min) + ", " + format_number(max) + "]";
  } else if (has_min) {
    text = kind + (min_exclusive ? " > " : " >= ") + format_number(min);
  } else if (has_max) {
    text = kind + " <= " + format_number(max);
  } else {
    text = "a finite " + std::string(integer ? "integer" : "number");
  }
  if (note != nullptr) text += std::string(" (") + note + ")";
  return text;
}

}  // namespace tessera::parameters
