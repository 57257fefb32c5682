// histogram_l2 (torch's HistogramObserver._non_linear_param_search, after caffe2's
// NormMinimization): on a histogram of the data, shrink [start, end] bin by bin from whichever
// side holds less mass (quantiles step by 1e-5), and stop at the first step that increases the
// L2 quantization error. The error of a candidate assumes uniform density inside each source
// bin and maps [start, end] onto 2^bits destination bins; mass outside is clamped to the edge
// bins, so clipping error counts. Result: [lower + start w, lower + (end + 1) w].
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "range_estimators/estimators.hpp"
#include "tessera/simulator/histogram.hpp"

namespace tessera::simulator {
namespace {

class HistogramL2Estimator final : public RangeEstimatorBase {
 public:
  HistogramL2Estimator(const RangeEstimatorParameters& params, const QuantGrid& grid)
      : histogram_(params.num_bins), destination_bins_(static_cast<double>(grid.num_steps() + 1)) {}

  void observe(std::span<const float> values) override { histogram_.add(values); }
  bool has_data() const override { return !histogram_.empty(); }

  ClipRange range() const override {
    const auto& counts = histogram_.counts();
    const int bins = histogram_.bins();
    std::vector<double> cumulative(counts.size());
    double running = 0.0;
    for (int bin = 0; bin < bins; ++bin) cumulative[bin] = running += counts[bin];
    const double total = running;

    constexpr double kStep = 1e-5;
    double alpha = 0.0;
    double beta = 1.0;
    int start = 0;
    int end = bins - 1;
    double best_norm = std::numeric_limits<double>::infinity();
    while (alpha < beta) {
      const double next_alpha = alpha + kStep;
      const double next_beta = beta - kStep;
      int left = start;
      int right = end;
      while (left < end && cumulative[left] < next_alpha * total) ++left;
      while (right > start && cumulative[right] > next_beta * total) --right;
      int next_start = start;
      int next_end = end;
      if (left - start > end - right) {
        next_start = left;
        alpha = next_alpha;
      } else {
        next_end = right;
        beta = next_beta;
      }
      if (next_start == start && next_end == end) continue;
      const double norm = quantization_error(next_start, next_end);
      if (norm > best_norm) break;
      best_norm = norm;
      start = next_start;
      end = next_end;
    }
    const double width = histogram_.bin_width();
    return {histogram_.lower() + width * start, histogram_.lower() + width * (end + 1)};
  }

 private:
  // Integral of density * e^2 for the error e running from `begin` to `end`.
  static double norm(double begin, double end, double density) {
    return density * (end * end * end - begin * begin * begin) / 3.0;
  }

  double quantization_error(int start, int end) const {
    const auto& counts = histogram_.counts();
    const double width = histogram_.bin_width();
    const double destination_width = width * (end - start + 1) / destination_bins_;
    if (destination_width == 0.0) return 0.0;
    double error = 0.0;
    for (int bin = 0; bin < histogram_.bins(); ++bin) {
      if (counts[bin] == 0.0) continue;
      const double density = counts[bin] / width;
      const double begin = (bin - start) * width;
      const double finish = begin + width;
      const double first = std::clamp(std::floor(begin / destination_width), 0.0, destination_bins_ - 1.0);
      const double last = std::clamp(std::floor(finish / destination_width), 0.0, destination_bins_ - 1.0);
      const double first_centre = (first + 0.5) * destination_width;
      error += norm(begin - first_centre, destination_width / 2.0, density);
      error += (last - first - 1.0) * norm(-destination_width / 2.0, destination_width / 2.0, density);
      const double last_centre = last * destination_width + destination_width / 2.0;
      error += norm(-destination_width / 2.0, finish - last_centre, density);
    }
    return error;
  }

  Histogram histogram_;
  double destination_bins_;
};

}  // namespace

std::unique_ptr<RangeEstimatorBase> make_histogram_l2(const RangeEstimatorParameters& params, const QuantGrid& grid,
                                                      bool) {
  return std::make_unique<HistogramL2Estimator>(params, grid);
}

}  // namespace tessera::simulator
