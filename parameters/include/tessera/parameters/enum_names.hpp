// Name tables for config enums, so YAML, messages and bindings spell enum values the way
// aihwkit does (`ABS_MAX`, `running_minmax`). Each enum specialises EnumNames<E>.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::parameters {

/// The valid name closest to `name` by edit distance (a plausible typo) or the shortest one it
/// abbreviates, or "" if none is plausibly meant: the "did you mean" of every message.
std::string closest_name(std::string_view name, const std::vector<std::string>& valid);

/// True when a and b are equal ignoring ASCII case (enum values, type names).
inline bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

template <class E>
struct EnumNames;  // specialise with: static constexpr std::array<std::pair<E, std::string_view>, N> kNames

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires {
  EnumNames<E>::kNames;
};

template <NamedEnum E>
constexpr std::string_view enum_name(E value) {
  for (const auto& [candidate, name] : EnumNames<E>::kNames) {
    if (candidate == value) return name;
  }
  return "?";
}

/// Case-insensitive lookup: `abs_max` finds NoiseManagementType::ABS_MAX.
template <NamedEnum E>
std::optional<E> enum_from_name(std::string_view text) {
  for (const auto& [value, name] : EnumNames<E>::kNames) {
    if (equal_ignoring_case(name, text)) return value;
  }
  return std::nullopt;
}

}  // namespace tessera::parameters
