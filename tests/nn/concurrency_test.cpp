// The thread contract (simulator/call_lock.hpp): one tile, tile array, model or quantizer shared
// by 4 threads x 50 calls gives exactly what a sequential run gives where noise is off, and
// program/drift/calibration during forwards corrupt neither. Run under ThreadSanitizer by
// scripts/sanitize.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "tessera/nn/conversion.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/tiles/tile_array.hpp"
#include "tiles/tile_test_helpers.hpp"

namespace tessera::nn {
namespace {

using tiles::testing::random_tensor;
constexpr int kThreads = 4;
constexpr int kCalls = 50;
const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";

// aihwkit's defaults (noise management, 7-bit DAC, 9-bit ADC, bound management) without the
// noise: deterministic, and every workspace of the pipeline in use.
parameters::InferenceRPUConfig noiseless() {
  parameters::InferenceRPUConfig config;
  config.forward.out_noise = 0.0;
  config.forward.w_noise = 0.0;
  config.noise_model = parameters::NullNoiseModel{};
  config.drift_compensation = parameters::NoDriftCompensation{};
  return config;
}

// Runs `call(thread, k)` kCalls times on each of kThreads threads at once; returns how many
// calls threw (overlapping calls once broke the tile's workspaces that way).
int on_threads(const std::function<void(int, int)>& call) {
  std::vector<std::thread> threads;
  std::atomic<int> ready{0}, thrown{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready < kThreads) std::this_thread::yield();  // start together
      for (int k = 0; k < kCalls; ++k) {
        try {
          call(t, k);
        } catch (const std::exception&) {
          ++thrown;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return thrown.load();
}

template <class Tiles>
void shared_tiles_equal_sequential_calls(Tiles& shared, Tiles& sequential, std::int64_t in_size) {
  std::vector<Tensor> inputs;
  for (int t = 0; t < kThreads; ++t) inputs.push_back(random_tensor({7 + t, in_size}, 10 + t));
  std::vector<Tensor> expected;
  for (const Tensor& x : inputs) expected.push_back(sequential.forward(x));
  std::atomic<int> wrong{0};
  const int thrown = on_threads([&](int t, int) {
    if (!(shared.forward(inputs[static_cast<std::size_t>(t)]) == expected[static_cast<std::size_t>(t)])) ++wrong;
  });
  EXPECT_EQ(wrong.load(), 0) << "of " << kThreads * kCalls << " calls";
  EXPECT_EQ(thrown, 0);
}

TEST(Concurrency, OneTileSharedByThreadsGivesTheSequentialResults) {
  const Tensor weights = random_tensor({40, 70}, 1, 0.2f);
  tiles::AnalogTile shared(40, 70, noiseless(), 3, "shared"), sequential(40, 70, noiseless(), 3, "shared");
  shared.set_weights(weights);
  sequential.set_weights(weights);
  shared_tiles_equal_sequential_calls(shared, sequential, 70);
}

TEST(Concurrency, OneTileArraySharedByThreadsGivesTheSequentialResults) {
  parameters::InferenceRPUConfig config = noiseless();
  config.mapping.max_input_size = 32;
  config.mapping.max_output_size = 16;
  const Tensor weights = random_tensor({40, 70}, 1, 0.2f);
  tiles::AnalogTileArray shared(40, 70, config, 3, "array"), sequential(40, 70, config, 3, "array");
  shared.set_weights(weights);
  sequential.set_weights(weights);
  ASSERT_GT(shared.tile_count(), 1u);
  shared_tiles_equal_sequential_calls(shared, sequential, 70);
}

TEST(Concurrency, OneAnalogModelSharedByThreadsGivesTheSequentialResults) {
  AnalogConversion conversion{noiseless(), {}, {}};
  Model shared = convert_to_analog(load_onnx(kModel), conversion);
  Model sequential = convert_to_analog(load_onnx(kModel), conversion);
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(random_tensor({3, 1, 28, 28}, 20 + t));
    expected.push_back(sequential.forward(inputs.back()));
  }
  std::atomic<int> wrong{0};
  const int thrown = on_threads([&](int t, int k) {
    if (k % 10 != 0) return;  // a model forward is slower; 5 calls per thread overlap plenty
    if (!(shared.forward(inputs[static_cast<std::size_t>(t)]) == expected[static_cast<std::size_t>(t)])) ++wrong;
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(thrown, 0);
}

TEST(Concurrency, ProgrammingAndDriftDuringForwardsCorruptNeither) {
  parameters::InferenceRPUConfig config;  // with PCM noise: programming and drift change the weights
  tiles::AnalogTileArray shared(24, 30, config, 5, "lifecycle");
  shared.set_weights(random_tensor({24, 30}, 2, 0.2f));
  std::atomic<int> failures{0};
  const int thrown = on_threads([&](int t, int k) {
    if (t == 0) {
      if (k % 2 == 0) {
        shared.program();
      } else {
        shared.drift(3600.0 * k);
      }
    } else {
      const Tensor y = shared.forward(random_tensor({5, 30}, 30 + t));
      for (std::int64_t i = 0; i < y.size(); ++i) {
        if (!std::isfinite(y[i])) ++failures;
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(thrown, 0);
  // The state after a drift is the one a fresh tile drifted alone reaches.
  tiles::AnalogTileArray alone(24, 30, config, 5, "lifecycle");
  alone.set_weights(random_tensor({24, 30}, 2, 0.2f));
  shared.drift(86400.0);
  alone.drift(86400.0);
  EXPECT_EQ(shared.logical_weights(), alone.logical_weights());
  EXPECT_EQ(shared.tile(0, 0).effective_weights(), alone.tile(0, 0).effective_weights());
}

TEST(Concurrency, CalibratingOneQuantizerFromThreadsEqualsCalibratingItAlone) {
  simulator::QuantizerOptions options;
  options.bitwidth = 8;
  options.range_estimator = parameters::RangeEstimator::percentile;
  simulator::QuantizeDequantize shared(options), alone(options);
  const Tensor batch = random_tensor({64, 32}, 40);
  shared.begin_calibration();
  EXPECT_EQ(on_threads([&](int, int) { shared(batch); }), 0);
  shared.end_calibration();
  alone.begin_calibration();
  for (int k = 0; k < kThreads * kCalls; ++k) alone(batch);
  alone.end_calibration();
  EXPECT_EQ(shared.scale(), alone.scale());
  EXPECT_EQ(shared.zero_point(), alone.zero_point());
}

}  // namespace
}  // namespace tessera::nn
