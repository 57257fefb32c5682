// How a weight matrix becomes device conductances (aihwkit's inference/converter):
// one (G+, G-) pair per weight, or N pairs of increasing significance F_k.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/field_problem.hpp"

namespace tessera::parameters {

namespace detail {
inline std::optional<FieldProblem> g_range_problem(double g_min, double g_max) {
  if (g_min < g_max) return std::nullopt;
  return FieldProblem{"g_min",
                      "g_min (" + format_number(g_min) + " uS) must be below g_max (" + format_number(g_max) + " uS)"};
}
}  // namespace detail

/// max|W| maps to g_max; G+ carries positive weights, G- negative ones.
struct SinglePairConductanceConverter {
  double g_max = 25.0;  ///< uS, conductance of the largest |weight|
  double g_min = 0.0;   ///< uS, conductance of a zero weight

  static constexpr std::string_view kTypeName = "SinglePairConductanceConverter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("g_max", self.g_max, kPositive, "uS, conductance of the largest |weight|");
    field("g_min", self.g_min, kNonNegative, "uS, conductance of a zero weight");
  }
  std::optional<FieldProblem> consistency_problem() const { return detail::g_range_problem(g_min, g_max); }
  bool operator==(const SinglePairConductanceConverter&) const = default;
};

/// N pairs per weight with significance factors f_lst (lowest first); a more significant pair
/// is used only once the lower ones are saturated.
struct NPairConductanceConverter {
  std::vector<double> f_lst = {1.0, 3.0};  ///< significance of each pair, lowest first
  double g_max = 25.0;                     ///< uS
  double g_min = 0.0;                      ///< uS

  static constexpr std::string_view kTypeName = "NPairConductanceConverter";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("f_lst", self.f_lst, kPositive, "significance of each pair, lowest first");
    field("g_max", self.g_max, kPositive, "uS");
    field("g_min", self.g_min, kNonNegative, "uS");
  }
  std::optional<FieldProblem> consistency_problem() const {
    if (f_lst.empty()) return FieldProblem{"f_lst", "f_lst needs at least one significance factor"};
    return detail::g_range_problem(g_min, g_max);
  }
  bool operator==(const NPairConductanceConverter&) const = default;
};

/// NPairConductanceConverter with exactly two pairs (aihwkit's DualPairConductanceConverter).
struct DualPairConductanceConverter : NPairConductanceConverter {
  using Base = NPairConductanceConverter;
  static constexpr std::string_view kTypeName = "DualPairConductanceConverter";
  std::optional<FieldProblem> consistency_problem() const {
    if (f_lst.size() != 2) {
      return FieldProblem{
          "f_lst", "a dual-pair converter needs exactly 2 significance factors, found " + std::to_string(f_lst.size())};
    }
    return NPairConductanceConverter::consistency_problem();
  }
  bool operator==(const DualPairConductanceConverter&) const = default;
};

using ConductanceConverter =
    std::variant<SinglePairConductanceConverter, DualPairConductanceConverter, NPairConductanceConverter>;

}  // namespace tessera::parameters
