#include "tessera/parameters/checks.hpp"

#include <sstream>

namespace tessera::parameters {
namespace {

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

std::string Check::describe(bool integer) const {
  const std::string kind = integer ? "an integer" : "a number";
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  std::string text;
  if (has_min && has_max) {
    text = kind + " in [" + number(min) + ", " + number(max) + "]";
  } else if (has_min) {
    text = kind + (min_exclusive ? " > " : " >= ") + number(min);
  } else if (has_max) {
    text = kind + " <= " + number(max);
  } else {
    text = "a finite " + std::string(integer ? "integer" : "number");
  }
  if (note != nullptr) text += std::string(" (") + note + ")";
  return text;
}

}  // namespace tessera::parameters
