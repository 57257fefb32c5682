// MSE (after aihwkit's MSE_Estimator): per batch, the clipping range minimising
// sum (x - QDQ(x))^2 over the batch is searched, and the estimate is the mean of the
// per-batch optima. With m = min(x) <= 0 <= M = max(x) (the range always holds 0) and
// T = 1 + range_margin:
//   symmetric:  range (-t, t), t = f max|x|, f in (0, T]
//   asymmetric: range (a m, b M), b in (0, T] searched like f, a in (0, T] by golden section
// The outer factor is searched on a grid of num_candidates values (grid) or by golden-section
// search (golden_section). Differences from aihwkit: the asymmetric search clips each side
// towards zero (aihwkit shifts a symmetric window by at most 2^n / 4 steps, so one-sided data
// such as ReLU outputs cannot reach [0, max]); range_margin is relative (aihwkit adds it in
// absolute units, which breaks small-valued data); and the grid is not accumulated over
// batches (aihwkit's grid mode sums losses of a grid fixed by the first batch).
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
    ClipRange data{0.0, 0.0};
    for (float value : values) {
      if (!std::isfinite(value)) continue;
      finite.push_back(value);
      data.min = std::min(data.min, static_cast<double>(value));
      data.max = std::max(data.max, static_cast<double>(value));
    }
    if (finite.empty()) return;
    const ClipRange best = best_range(finite, data);
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

  // The range for outer factor f: symmetric (-f max|x|, f max|x|); asymmetric (a m, f M) with
  // the best lower factor a.
  ClipRange range_at(std::span<const float> values, ClipRange data, double f) const {
    if (symmetric_) {
      const double t = f * std::max({-data.min, data.max, 1e-12});
      return {-t, t};
    }
    if (data.min == 0.0) return {0.0, f * data.max};
    const double upper = f * data.max;
    const double a = golden_section_minimum(1e-3, 1.0 + params_.range_margin, [&](double factor) {
      return loss(values, {factor * data.min, upper});
    });
    return {a * data.min, upper};
  }

  ClipRange best_range(std::span<const float> values, ClipRange data) const {
    if (!symmetric_ && data.max == 0.0) {  // all values <= 0: search the lower side only
      const double a = golden_section_minimum(1e-3, 1.0 + params_.range_margin, [&](double factor) {
        return loss(values, {factor * data.min, 0.0});
      });
      return {a * data.min, 0.0};
    }
    auto factor_loss = [&](double f) { return loss(values, range_at(values, data, f)); };
    const double top = 1.0 + params_.range_margin;
    double best_f = 1.0;
    if (params_.range_opt_method == parameters::RangeOptMethod::grid) {
      double best_loss = std::numeric_limits<double>::infinity();
      for (int k = 1; k <= params_.num_candidates; ++k) {
        const double f = top * k / params_.num_candidates;
        const double candidate_loss = factor_loss(f);
        if (candidate_loss < best_loss) {
          best_loss = candidate_loss;
          best_f = f;
        }
      }
    } else {
      best_f = golden_section_minimum(1e-3, top, factor_loss);
    }
    return range_at(values, data, best_f);
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
