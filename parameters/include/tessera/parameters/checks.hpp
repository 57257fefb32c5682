// Value-range checks attached to config fields, e.g. `at_least(0.0)` for a noise level.
// A check is data, so the same declaration validates YAML input and dotted-path overrides.
#pragma once

#include <cmath>
#include <limits>
#include <string>

namespace tessera::parameters {

struct Check {
  double min = -std::numeric_limits<double>::infinity();  ///< lower bound
  double max = std::numeric_limits<double>::infinity();   ///< upper bound
  bool min_exclusive = false;                             ///< min itself is not allowed
  const char* note = nullptr;                             ///< why, shown in the message (e.g. "0 turns it off")

  bool allows(double value) const {
    if (std::isnan(value)) return false;
    if (min_exclusive ? !(value > min) : !(value >= min)) return false;
    return value <= max;
  }
  /// "a number >= 0 (0 turns the DAC off)"
  std::string describe(bool integer) const;
};

/// A number as people write it in messages: "0.25", "30", "1e-07" (shortest round-trip-ish).
std::string format_number(double value);

inline constexpr Check kAnyValue{};
constexpr Check at_least(double min, const char* note = nullptr) {
  return {min, std::numeric_limits<double>::infinity(), false, note};
}
constexpr Check greater_than(double min, const char* note = nullptr) {
  return {min, std::numeric_limits<double>::infinity(), true, note};
}
constexpr Check at_most(double max, const char* note = nullptr) {
  return {-std::numeric_limits<double>::infinity(), max, false, note};
}
constexpr Check between(double min, double max, const char* note = nullptr) { return {min, max, false, note}; }

inline constexpr Check kNonNegative = at_least(0.0);
inline constexpr Check kPositive = greater_than(0.0);
inline constexpr Check kProbability = between(0.0, 1.0);
/// Bit widths: n_bits <= 0 means "not quantized" (aihwkit's convention); above 32 is a typo.
inline constexpr Check kBitWidth = at_most(32.0, "n_bits <= 0 turns quantization off");

}  // namespace tessera::parameters
