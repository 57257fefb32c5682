// Factories of the individual range estimators, collected by range_estimator_registry().
#pragma once

#include <memory>

#include "tessera/simulator/range_estimators.hpp"

namespace tessera::simulator {

using parameters::RangeEstimatorParameters;

std::unique_ptr<RangeEstimatorBase> make_current_minmax(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                        bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_allminmax(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                   bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_running_minmax(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                        bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_moving_average_minmax(const RangeEstimatorParameters& params,
                                                               const QuantGrid& grid, bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_mse(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                             bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_percentile(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                    bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_sqnr(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                              bool symmetric);
std::unique_ptr<RangeEstimatorBase> make_histogram_l2(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                      bool symmetric);

}  // namespace tessera::simulator
