// An int8 Linear layer (uint8 activations x int8 weights, exact int32 sums, requantized to
// float) against the float Linear of the same shape, 1024 x 1024 at batch 256, both with the
// threads OpenMP gives them. The int8 side includes quantizing its float input; the weights are
// packed once, as a converted layer does. Goal: the int8 layer at least 1.5x faster.
//   build/benchmarks/int8_linear_benchmark
#include <benchmark/benchmark.h>

#include <cmath>

#include "ratio_reporter.hpp"
#include "tessera/simulator/int8_gemm.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::simulator {
namespace {

constexpr std::int64_t kIn = 1024, kOut = 1024, kBatch = 256;

Tensor random_tensor(Shape shape, std::uint64_t seed) {
  Tensor t(std::move(shape));
  RandomStream(seed).fill_normal(t.values());
  return t;
}

void BM_FloatLinear(benchmark::State& state) {
  const Tensor x = random_tensor({kBatch, kIn}, 1), w = random_tensor({kOut, kIn}, 2);
  const std::vector<float> bias(kOut, 0.5f);
  for (auto _ : state) {
    Tensor y({kBatch, kOut});
    matmul_transposed(x, w, y);
    for (std::int64_t m = 0; m < kBatch; ++m)
      for (std::int64_t n = 0; n < kOut; ++n) y[m * kOut + n] += bias[static_cast<std::size_t>(n)];
    benchmark::DoNotOptimize(y.data());
  }
}

void BM_Int8Linear(benchmark::State& state) {
  const Tensor x = random_tensor({kBatch, kIn}, 1);
  std::vector<std::int8_t> weights(kIn * kOut);
  const Tensor w = random_tensor({kOut, kIn}, 2);
  for (std::int64_t k = 0; k < w.size(); ++k) {
    weights[static_cast<std::size_t>(k)] =
        static_cast<std::int8_t>(std::clamp(std::nearbyint(w[k] * 32.0f), -127.0f, 127.0f));
  }
  const PackedInt8Weights packed(weights, kOut, kIn);
  const std::vector<float> w_scales(kOut, 1.0f / 32.0f), bias(kOut, 0.5f);
  const float a_scale = 8.0f / 255.0f;
  const std::int32_t a_zero = 128;
  for (auto _ : state) {
    std::vector<std::uint8_t> a(static_cast<std::size_t>(kBatch * kIn));
    for (std::int64_t k = 0; k < x.size(); ++k) {
      const float q = std::nearbyint(x[k] / a_scale) + static_cast<float>(a_zero);
      a[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(std::clamp(q, 0.0f, 255.0f));
    }
    std::vector<float> y(static_cast<std::size_t>(kBatch * kOut));
    int8_linear(a, kBatch, packed, a_scale, a_zero, w_scales, bias, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(int8_gemm_uses_vnni() ? "AVX512-VNNI" : "portable loop");
}

BENCHMARK(BM_FloatLinear)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int8Linear)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tessera::simulator

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  reporter.add_comparison("BM_Int8Linear", "BM_FloatLinear/real_time");
  tessera::benchmarks::run_with_ratios(argc, argv, reporter);
  return 0;
}
