// histogram_l2 picks the same range as torch's HistogramObserver (quint8: 2048 source bins,
// 256 destination bins) on one batch of data; reference from scripts/make_torch_reference.py.
// The data have integer min and max: torch 1.13 builds its histogram over [int(min), int(max)]
// while labelling bins with the true range (a torch bug tessera does not reproduce).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "reference/bit_patterns.hpp"
#include "tessera/simulator/range_estimators.hpp"

namespace tessera::simulator {
namespace {

struct HistogramCase {
  std::string name;
  float low = 0.0f;
  float high = 0.0f;
  std::vector<float> input;
};

std::vector<HistogramCase> load_cases() {
  std::vector<HistogramCase> cases;
  std::size_t count = 0;
  reference::for_each_tagged_line(TESSERA_TEST_DATA_DIR "/torch_histogram_l2_reference.txt",
                                  [&](const std::string& tag, std::istringstream& line) {
                                    if (tag == "case") {
                                      cases.emplace_back();
                                      line >> cases.back().name >> count;
                                    } else if (tag == "range") {
                                      const std::vector<float> range = reference::read_bit_patterns(line, 2);
                                      cases.back().low = range.at(0);
                                      cases.back().high = range.at(1);
                                    } else if (tag == "input") {
                                      cases.back().input = reference::read_bit_patterns(line, count);
                                    }
                                  });
  return cases;
}

TEST(TorchHistogramReference, HistogramL2PicksTorchsRange) {
  const std::vector<HistogramCase> cases = load_cases();
  ASSERT_EQ(cases.size(), 4u) << "reference file missing or truncated";
  for (const HistogramCase& reference : cases) {
    SCOPED_TRACE(reference.name);
    auto estimator = make_range_estimator(parameters::RangeEstimator::histogram_l2, {}, make_grid(8, false), false);
    estimator->observe(reference.input);
    const ClipRange range = estimator->range();
    float min = reference.input[0], max = reference.input[0];
    for (float v : reference.input) {
      min = std::min(min, v);
      max = std::max(max, v);
    }
    // Both searches walk the same 2048 bins; allow float rounding of the bin edges.
    const double bin = (static_cast<double>(max) - min) / 2048.0;
    EXPECT_NEAR(range.min, reference.low, 1e-3 * bin);
    EXPECT_NEAR(range.max, reference.high, 1e-3 * bin);
  }
}

}  // namespace
}  // namespace tessera::simulator
