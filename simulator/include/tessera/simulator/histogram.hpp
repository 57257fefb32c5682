// A histogram over a range that grows with the data, for histogram-based range estimators.
// When a batch falls outside the current range the range is widened and old counts are
// re-binned in proportion to how each old bin overlaps the new ones (AIMET's scheme), so the
// bin count stays fixed however many batches are seen.
#pragma once

#include <span>
#include <vector>

namespace tessera::simulator {

class Histogram {
 public:
  explicit Histogram(int bins);

  /// Adds the finite values of a batch.
  void add(std::span<const float> values);

  bool empty() const { return total_ == 0.0; }
  int bins() const { return static_cast<int>(counts_.size()); }
  double lower() const { return lower_; }
  double upper() const { return upper_; }
  double bin_width() const { return (upper_ - lower_) / bins(); }
  double bin_center(int bin) const { return lower_ + (bin + 0.5) * bin_width(); }
  const std::vector<double>& counts() const { return counts_; }
  double total() const { return total_; }

 private:
  void widen_to(double lower, double upper);

  std::vector<double> counts_;
  double lower_ = 0.0;
  double upper_ = 0.0;
  double total_ = 0.0;
};

}  // namespace tessera::simulator
