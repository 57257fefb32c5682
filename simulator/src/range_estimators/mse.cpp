// MSE (aihwkit's MSE_Estimator): per batch, the clipping range minimising
// sum (x - QDQ(x))^2 over the batch's values is searched:
//   symmetric:  range (-t, t), t in (0, T], T = max|x| (1 + range_margin)
//   asymmetric: range (-t + s, t + s), |s| <= delta(t) * 2^n / 4 with delta(t) = 2t / (2^n - 1)
// by a grid of num_candidates values of t (grid) or golden-section search on t (golden_section);
// the shift s is always found by golden-section search. The estimate is the mean of the
// per-batch optima. Deviations from aihwkit: range_margin is relative to max|x| (aihwkit adds
// it in absolute units, which breaks small-valued data), and the grid is not accumulated
// across batches (aihwkit's grid mode sums losses over batches of a fixed grid).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "range_estimators/estimators.hpp"
#include "tessera/simulator/fake_quant_kernel.hpp"

namespace tessera::simulator {
namespace {

constexpr int kGoldenIterations = 40;  // interval shrinks by 0.618^40 ~ 4e-9

template <class Loss>
double golden_section_minimum(double low, double high, Loss loss) {
  const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = low;
  double b = high;
  double c = b - ratio * (b - a);
  double d = a + ratio * (b - a);
  double loss_c = loss(c);
  double loss_d = loss(d);
  for (int i = 0; i < kGoldenIterations; ++i) {
    if (loss_c <= loss_d) {
      b = d;
      d = c;
      loss_d = loss_c;
      c = b - ratio * (b - a);
      loss_c = loss(c);
    } else {
      a = c;
      c = d;
      loss_c = loss_d;
      d = a + ratio * (b - a);
      loss_d = loss(d);
    }
  }
  return loss_c <= loss_d ? c : d;
}

class MseEstimator final : public RangeEstimatorBase {
 public:
  MseEstimator(const RangeEstimatorParameters& params, const QuantGrid& grid, bool symmetric)
      : params_(params), grid_(grid), symmetric_(symmetric) {}

  void observe(std::span<const float> values) override {
    std::vector<float> finite;
    finite.reserve(values.size());
    double max_abs = 0.0;
    for (float value : values) {
      if (!std::isfinite(value)) continue;
      finite.push_back(value);
      max_abs = std::max(max_abs, static_cast<double>(std::abs(value)));
    }
    if (finite.empty()) return;
    if (max_abs == 0.0) max_abs = 1e-12;
    const ClipRange best = best_range(finite, max_abs * (1.0 + params_.range_margin));
    sum_.min += best.min;
    sum_.max += best.max;
    ++batches_;
  }

  bool has_data() const override { return batches_ > 0; }
  ClipRange range() const override { return {sum_.min / batches_, sum_.max / batches_}; }

 private:
  double loss(std::span<const float> values, ClipRange range) const {
    return quantization_squared_error(values, range, grid_, symmetric_);
  }

  // For a half-width t: the loss of the best range of that width.
  ClipRange best_at_width(std::span<const float> values, double t) const {
    if (symmetric_) return {-t, t};
    const double delta = 2.0 * t / static_cast<double>(grid_.num_steps());
    const double max_shift = delta * static_cast<double>((grid_.num_steps() + 1) / 4);
    const double shift = golden_section_minimum(-max_shift, max_shift, [&](double s) { return loss(values, {-t + s, t + s}); });
    return {-t + shift, t + shift};
  }

  ClipRange best_range(std::span<const float> values, double max_width) const {
    auto width_loss = [&](double t) { return loss(values, best_at_width(values, t)); };
    double best_t = max_width;
    if (params_.range_opt_method == parameters::RangeOptMethod::grid) {
      double best_loss = std::numeric_limits<double>::infinity();
      const double step = max_width / params_.num_candidates;
      for (int k = 1; k <= params_.num_candidates; ++k) {
        const double candidate_loss = width_loss(k * step);
        if (candidate_loss < best_loss) {
          best_loss = candidate_loss;
          best_t = k * step;
        }
      }
    } else {
      best_t = golden_section_minimum(max_width * 1e-3, max_width, width_loss);
    }
    return best_at_width(values, best_t);
  }

  RangeEstimatorParameters params_;
  QuantGrid grid_;
  bool symmetric_;
  ClipRange sum_{};
  int batches_ = 0;
};

}  // namespace

double quantization_squared_error(std::span<const float> values, ClipRange range, const QuantGrid& grid,
                                  bool symmetric) {
  const Encoding encoding = encoding_from_range(adjust_range_for_grid(range, grid, symmetric), grid, symmetric);
  const FakeQuantParams<double> params{encoding.scale, 1.0 / encoding.scale, static_cast<double>(encoding.zero_point),
                                       static_cast<double>(grid.qmin), static_cast<double>(grid.qmax)};
  double sum = 0.0;
  for (float value : values) {
    const double error = value - quantize_dequantize_value<double>(value, params);
    sum += error * error;
  }
  return sum;
}

std::unique_ptr<RangeEstimatorBase> make_mse(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                             bool symmetric) {
  return std::make_unique<MseEstimator>(params, grid, symmetric);
}

}  // namespace tessera::simulator
