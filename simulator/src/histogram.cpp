#include "tessera/simulator/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "finite_min_max.hpp"

namespace tessera::simulator {

Histogram::Histogram(int bins) {
  if (bins < 2) throw std::invalid_argument("a histogram needs at least 2 bins");
  counts_.assign(static_cast<std::size_t>(bins), 0.0);
}

void Histogram::widen_to(double lower, double upper) {
  if (total_ == 0.0) {
    if (upper <= lower) {  // one distinct value: give the bins a tiny width around it
      const double pad = std::max(std::abs(lower) * 1e-6, 1e-12);
      lower -= pad;
      upper += pad;
    }
    lower_ = lower;
    upper_ = upper;
    return;
  }
  if (lower >= lower_ && upper <= upper_) return;
  lower = std::min(lower, lower_);
  upper = std::max(upper, upper_);
  const double old_width = bin_width();
  const double new_width = (upper - lower) / bins();
  std::vector<double> rebinned(counts_.size(), 0.0);
  for (int bin = 0; bin < bins(); ++bin) {
    if (counts_[bin] == 0.0) continue;
    const double begin = lower_ + bin * old_width;
    const double end = begin + old_width;
    int first = std::clamp(static_cast<int>(std::floor((begin - lower) / new_width)), 0, bins() - 1);
    int last = std::clamp(static_cast<int>(std::floor((end - lower) / new_width)), 0, bins() - 1);
    for (int target = first; target <= last; ++target) {
      const double target_begin = lower + target * new_width;
      const double overlap = std::min(end, target_begin + new_width) - std::max(begin, target_begin);
      if (overlap > 0.0) rebinned[target] += counts_[bin] * overlap / old_width;
    }
  }
  counts_ = std::move(rebinned);
  lower_ = lower;
  upper_ = upper;
}

void Histogram::add(std::span<const float> values) {
  const std::optional<ClipRange> batch = finite_min_max(values);
  if (!batch) return;
  widen_to(batch->min, batch->max);
  const double scale = bins() / (upper_ - lower_);
  for (float value : values) {
    if (!std::isfinite(value)) continue;
    const int bin = std::clamp(static_cast<int>((value - lower_) * scale), 0, bins() - 1);
    counts_[bin] += 1.0;
    total_ += 1.0;
  }
}

}  // namespace tessera::simulator
