#include "tessera/parameters/noise_models.hpp"

#include <algorithm>

namespace tessera::parameters {

std::optional<FieldProblem> CustomDriftTable::consistency_problem() const {
  if (g_lst.size() < 2) return FieldProblem{"g_lst", "the drift table needs at least 2 conductance points"};
  if (nu_mean_lst.size() != g_lst.size()) {
    return FieldProblem{"nu_mean_lst", "nu_mean_lst has " + std::to_string(nu_mean_lst.size()) +
                                           " entries but g_lst has " + std::to_string(g_lst.size())};
  }
  if (nu_std_lst.size() != g_lst.size()) {
    return FieldProblem{"nu_std_lst", "nu_std_lst has " + std::to_string(nu_std_lst.size()) +
                                          " entries but g_lst has " + std::to_string(g_lst.size())};
  }
  if (std::adjacent_find(g_lst.begin(), g_lst.end(), std::greater_equal<>()) != g_lst.end()) {
    return FieldProblem{"g_lst", "g_lst must be strictly increasing"};
  }
  return std::nullopt;
}

std::optional<FieldProblem> ReRamWan2022NoiseModel::consistency_problem() const {
  if (coeff_dic.empty()) return FieldProblem{"coeff_dic", "coeff_dic needs at least one time point"};
  for (const auto& [time, coefficients] : coeff_dic) {
    if (time < 0.0) return FieldProblem{"coeff_dic", "times in coeff_dic must be >= 0 s"};
    if (coefficients.empty()) return FieldProblem{"coeff_dic", "every time point needs at least one coefficient"};
  }
  return std::nullopt;
}

}  // namespace tessera::parameters
