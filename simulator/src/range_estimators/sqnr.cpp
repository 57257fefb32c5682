// sqnr (AIMET's SqnrEncodingAnalyzer, "tf_enhanced"): on a histogram of the data, try
// (delta, offset) candidates and keep the one with the least weighted squared error, each bin
// represented by its centre m with count h:
//   q = clamp(round(m / delta - offset), 0, steps),  error = ((q + offset) delta - m)^2 h,
//   multiplied by gamma when m is clipped (gamma = 1 is plain MSE).
// Symmetric: delta_k = (2 max|x| / steps) k / (N - 1), k = 1..N-1, offset = floor(-steps / 2).
// Asymmetric: delta_k = ((max - min) / steps) k / (N - 1) and offsets
//   round(linspace(-steps, 0, M)) plus the observed round(min / delta_max).
// Result: min = offset delta, max = min + steps delta.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "range_estimators/estimators.hpp"
#include "tessera/simulator/histogram.hpp"

namespace tessera::simulator {
namespace {

class SqnrEstimator final : public RangeEstimatorBase {
 public:
  SqnrEstimator(const RangeEstimatorParameters& params, const QuantGrid& grid, bool symmetric)
      : histogram_(params.num_bins),
        params_(params),
        steps_(static_cast<double>(grid.num_steps())),
        symmetric_(symmetric) {}

  void observe(std::span<const float> values) override { histogram_.add(values); }
  bool has_data() const override { return !histogram_.empty(); }

  ClipRange range() const override {
    const double min = std::min(histogram_.lower(), 0.0);
    const double max = std::max(histogram_.upper(), 0.0);
    std::vector<double> offsets;
    double max_delta = 0.0;
    int candidates = 0;
    if (symmetric_) {
      max_delta = 2.0 * std::max(-min, max) / steps_;
      candidates = params_.sqnr_symmetric_candidates;
      offsets.push_back(std::floor(-steps_ / 2.0));
    } else {
      max_delta = (max - min) / steps_;
      candidates = params_.sqnr_asymmetric_candidates;
      const int count = params_.sqnr_offset_candidates;
      for (int i = 0; i < count; ++i) {
        offsets.push_back(std::nearbyint(count == 1 ? 0.0 : -steps_ + steps_ * i / (count - 1)));
      }
      offsets.push_back(std::nearbyint(min / max_delta));
    }
    double best_cost = std::numeric_limits<double>::infinity();
    ClipRange best{min, max};
    for (int k = 1; k < candidates; ++k) {
      const double delta = max_delta * k / (candidates - 1);
      for (double offset : offsets) {
        const double cost = weighted_error(delta, offset);
        if (cost < best_cost) {
          best_cost = cost;
          best = {offset * delta, offset * delta + steps_ * delta};
        }
      }
    }
    return best;
  }

 private:
  double weighted_error(double delta, double offset) const {
    const auto& counts = histogram_.counts();
    double cost = 0.0;
    for (int bin = 0; bin < histogram_.bins(); ++bin) {
      if (counts[bin] == 0.0) continue;
      const double centre = histogram_.bin_center(bin);
      const double level = std::nearbyint(centre / delta - offset);
      const double clamped = std::clamp(level, 0.0, steps_);
      const double error = (clamped + offset) * delta - centre;
      cost += error * error * counts[bin] * (clamped != level ? params_.sqnr_gamma : 1.0);
    }
    return cost;
  }

  Histogram histogram_;
  RangeEstimatorParameters params_;
  double steps_;
  bool symmetric_;
};

}  // namespace

std::unique_ptr<RangeEstimatorBase> make_sqnr(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                              bool symmetric) {
  return std::make_unique<SqnrEstimator>(params, grid, symmetric);
}

}  // namespace tessera::simulator
