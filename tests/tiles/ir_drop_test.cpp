// IR drop against aihwkit's formula evaluated in double precision, with every other
// non-ideality off.
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/tiles/analog_tile.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::tiles {
namespace {

using namespace tessera::tiles::testing;

std::vector<double> ir_drop_reference(const Tensor& x, const Tensor& w, double strength, double g_ratio) {
  const std::int64_t batch = x.dim(0), in = x.dim(1), out = w.dim(0);
  std::vector<double> y(static_cast<std::size_t>(batch * out));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < out; ++i) {
      double product = 0.0, current = 0.0, weighted = 0.0;
      for (std::int64_t j = 0; j < in; ++j) {
        const double v = x[b * in + j], wij = w[i * in + j];
        const double distance = 1.0 - static_cast<double>(j) / static_cast<double>(in);
        product += wij * v;
        current += std::abs(wij) * std::abs(v);
        weighted += wij * v * (1.0 - distance * distance);
      }
      const double a = static_cast<double>(in) / g_ratio * current;
      const double c = a * (a * (0.05 * a - 0.2) + 0.5);
      y[static_cast<std::size_t>(b * out + i)] = product - strength * c * weighted;
    }
  }
  return y;
}

TEST(IrDrop, MatchesTheFormula) {
  InferenceRPUConfig config = ideal_config();
  config.forward.ir_drop = 0.8;
  config.forward.ir_drop_g_ratio = 2000.0;
  AnalogTile tile(16, 64, config, 1);
  const Tensor w = random_tensor({16, 64}, 1, 0.5f);
  const Tensor x = random_tensor({8, 64}, 2, 0.5f);
  tile.set_weights(w);
  const Tensor y = tile.forward(x);
  const std::vector<double> expected = ir_drop_reference(x, w, 0.8, 2000.0);
  for (std::int64_t k = 0; k < y.size(); ++k) ASSERT_NEAR(y[k], expected[static_cast<std::size_t>(k)], 1e-4) << k;
}

TEST(IrDrop, LowersPositiveCurrentsMoreForFartherInputs) {
  InferenceRPUConfig config = ideal_config();
  config.forward.ir_drop = 1.0;
  config.forward.ir_drop_g_ratio = 1000.0;
  AnalogTile tile(1, 64, config, 1);
  Tensor w({1, 64});
  for (float& value : w.values()) value = 0.5f;
  tile.set_weights(w);
  Tensor near({1, 64}), far({1, 64});
  near[0] = 1.0f;  // driven next to the driver: j = 0 sees no drop
  far[63] = 1.0f;  // the far end
  EXPECT_FLOAT_EQ(tile.forward(near)[0], 0.5f);
  const float dropped = tile.forward(far)[0];
  EXPECT_LT(dropped, 0.5f);
  EXPECT_GT(dropped, 0.0f);
}

}  // namespace
}  // namespace tessera::tiles
