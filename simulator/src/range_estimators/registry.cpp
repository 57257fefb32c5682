#include <stdexcept>
#include <string>

#include "range_estimators/estimators.hpp"

namespace tessera::simulator {

const std::map<parameters::RangeEstimator, RangeEstimatorFactory>& range_estimator_registry() {
  using parameters::RangeEstimator;
  static const std::map<RangeEstimator, RangeEstimatorFactory> registry{
      {RangeEstimator::current_minmax, make_current_minmax},
      {RangeEstimator::allminmax, make_allminmax},
      {RangeEstimator::running_minmax, make_running_minmax},
      {RangeEstimator::moving_average_minmax, make_moving_average_minmax},
      {RangeEstimator::MSE, make_mse},
      {RangeEstimator::percentile, make_percentile},
      {RangeEstimator::sqnr, make_sqnr},
      {RangeEstimator::histogram_l2, make_histogram_l2},
  };
  return registry;
}

std::unique_ptr<RangeEstimatorBase> make_range_estimator(parameters::RangeEstimator kind,
                                                         const parameters::RangeEstimatorParameters& params,
                                                         const QuantGrid& grid, bool symmetric) {
  const auto& registry = range_estimator_registry();
  const auto found = registry.find(kind);
  if (found == registry.end()) {
    throw std::invalid_argument("no range estimator registered for '" + std::string(parameters::enum_name(kind)) + "'");
  }
  return found->second(params, grid, symmetric);
}

}  // namespace tessera::simulator
