// percentile (AIMET's PercentileEncodingAnalyzer): accumulate a histogram; with cumulative
// counts C, max = upper edge of the first bin where C >= total * p / 100 and
// min = lower edge of the first bin where C > total * (1 - p / 100). p = 100 gives min/max.
#include "range_estimators/estimators.hpp"
#include "tessera/simulator/histogram.hpp"

namespace tessera::simulator {
namespace {

class PercentileEstimator final : public RangeEstimatorBase {
 public:
  explicit PercentileEstimator(const RangeEstimatorParameters& params)
      : histogram_(params.num_bins), percentile_(params.percentile) {}

  void observe(std::span<const float> values) override { histogram_.add(values); }
  bool has_data() const override { return !histogram_.empty(); }

  ClipRange range() const override {
    const auto& counts = histogram_.counts();
    const double total = histogram_.total();
    const double upper_mass = total * percentile_ / 100.0;
    const double lower_mass = total * (1.0 - percentile_ / 100.0);
    int min_bin = 0;
    int max_bin = histogram_.bins() - 1;
    if (percentile_ < 100.0) {
      double cumulative = 0.0;
      bool min_found = false;
      for (int bin = 0; bin < histogram_.bins(); ++bin) {
        cumulative += counts[bin];
        if (!min_found && cumulative > lower_mass) {
          min_bin = bin;
          min_found = true;
        }
        if (cumulative >= upper_mass) {
          max_bin = bin;
          break;
        }
      }
    }
    const double width = histogram_.bin_width();
    return {histogram_.lower() + min_bin * width, histogram_.lower() + (max_bin + 1) * width};
  }

 private:
  Histogram histogram_;
  double percentile_;
};

}  // namespace

std::unique_ptr<RangeEstimatorBase> make_percentile(const RangeEstimatorParameters& params, const QuantGrid&, bool) {
  return std::make_unique<PercentileEstimator>(params);
}

}  // namespace tessera::simulator
