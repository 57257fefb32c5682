// Min/max range estimators. For one batch let (m, M) be its smallest and largest finite value.
//   current_minmax         r = (m, M) of the latest batch                      (aihwkit)
//   allminmax              r = (min over batches m, max over batches M)         (aihwkit)
//   running_minmax         r <- (1 - momentum) (m, M) + momentum r              (aihwkit, momentum 0.9)
//   moving_average_minmax  r <- r + c ((m, M) - r)                              (torch, c = 0.01)
// The first batch initialises r in every case.
#include <algorithm>
#include <cmath>
#include <limits>

#include "finite_min_max.hpp"
#include "range_estimators/estimators.hpp"

namespace tessera::simulator {
namespace {

enum class MinMaxRule { current, all, running, moving_average };

class MinMaxEstimator final : public RangeEstimatorBase {
 public:
  MinMaxEstimator(MinMaxRule rule, double weight) : rule_(rule), weight_(weight) {}

  void observe(std::span<const float> values) override {
    const std::optional<ClipRange> found = finite_min_max(values);
    if (!found) return;
    const ClipRange batch = *found;
    if (!has_data_) {
      range_ = batch;
      has_data_ = true;
      return;
    }
    switch (rule_) {
      case MinMaxRule::current:
        range_ = batch;
        break;
      case MinMaxRule::all:
        range_ = {std::min(range_.min, batch.min), std::max(range_.max, batch.max)};
        break;
      case MinMaxRule::running:
        range_ = {(1.0 - weight_) * batch.min + weight_ * range_.min,
                  (1.0 - weight_) * batch.max + weight_ * range_.max};
        break;
      case MinMaxRule::moving_average:
        range_ = {range_.min + weight_ * (batch.min - range_.min), range_.max + weight_ * (batch.max - range_.max)};
        break;
    }
  }
  bool has_data() const override { return has_data_; }
  ClipRange range() const override { return range_; }

 private:
  MinMaxRule rule_;
  double weight_;
  bool has_data_ = false;
  ClipRange range_{};
};

}  // namespace

std::unique_ptr<RangeEstimatorBase> make_current_minmax(const RangeEstimatorParameters&, const QuantGrid&, bool) {
  return std::make_unique<MinMaxEstimator>(MinMaxRule::current, 0.0);
}
std::unique_ptr<RangeEstimatorBase> make_allminmax(const RangeEstimatorParameters&, const QuantGrid&, bool) {
  return std::make_unique<MinMaxEstimator>(MinMaxRule::all, 0.0);
}
std::unique_ptr<RangeEstimatorBase> make_running_minmax(const RangeEstimatorParameters& params, const QuantGrid&,
                                                        bool) {
  return std::make_unique<MinMaxEstimator>(MinMaxRule::running, params.momentum);
}
std::unique_ptr<RangeEstimatorBase> make_moving_average_minmax(const RangeEstimatorParameters& params, const QuantGrid&,
                                                               bool) {
  return std::make_unique<MinMaxEstimator>(MinMaxRule::moving_average, params.averaging_constant);
}

}  // namespace tessera::simulator
