// Range estimators: observe calibration data for one encoding (one tensor, channel or block)
// and propose a clipping range [min, max]. Non-finite values are skipped. Each estimator's
// formula is documented at its class in src/range_estimators/; all are created by name
// through range_estimator_registry(), so adding one means adding one entry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>

#include "tessera/parameters/quantization.hpp"
#include "tessera/simulator/affine_encoding.hpp"

namespace tessera::simulator {

class RangeEstimatorBase {
 public:
  virtual ~RangeEstimatorBase() = default;
  /// One batch of values belonging to this encoding.
  virtual void observe(std::span<const float> values) = 0;
  /// True once at least one finite value was observed.
  virtual bool has_data() const = 0;
  /// The proposed clipping range (before adjust_range_for_grid).
  virtual ClipRange range() const = 0;
};

/// Estimators are made for one quantizer grid: the search-based ones evaluate candidates on it.
using RangeEstimatorFactory = std::function<std::unique_ptr<RangeEstimatorBase>(
    const parameters::RangeEstimatorParameters&, const QuantGrid&, bool symmetric)>;

/// Every estimator by its config name.
const std::map<parameters::RangeEstimator, RangeEstimatorFactory>& range_estimator_registry();

std::unique_ptr<RangeEstimatorBase> make_range_estimator(parameters::RangeEstimator kind,
                                                         const parameters::RangeEstimatorParameters& params,
                                                         const QuantGrid& grid, bool symmetric);

/// Sum over `values` of (x - QDQ(x))^2 when the quantizer uses clipping range `range` (after
/// adjust_range_for_grid): the loss the MSE estimator minimises, exposed for tests.
double quantization_squared_error(std::span<const float> values, ClipRange range, const QuantGrid& grid,
                                  bool symmetric);

}  // namespace tessera::simulator
