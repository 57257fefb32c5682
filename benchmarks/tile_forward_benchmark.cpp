// AnalogTile forward against the plain float GEMM of the same shape, in the same run.
// Goals (issue 3): 512x512 batch 256 with aihwkit's inference defaults <= 1.3x the GEMM,
// batch 1 <= 3x, per-MVM PCM_READ weight noise <= 2.5x. BM_PackedProduct is the tile's own
// product kernel alone, so the ratios can be read as kernel and periphery.
#include <benchmark/benchmark.h>

#include "ratio_reporter.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/packed_product.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/tiles/analog_tile.hpp"

namespace tessera::tiles {
namespace {

using simulator::Tensor;

Tensor random_tensor(simulator::Shape shape, std::uint64_t stream, float stddev) {
  Tensor tensor(std::move(shape));
  simulator::RandomStream(11, stream).fill_normal(tensor.values(), 0, 0.0f, stddev);
  return tensor;
}

void BM_FloatGemm(benchmark::State& state) {
  const std::int64_t size = state.range(0), batch = state.range(1);
  const Tensor w = random_tensor({size, size}, 1, 0.05f);
  const Tensor x = random_tensor({batch, size}, 2, 1.0f);
  for (auto _ : state) {
    Tensor y({batch, size});
    simulator::matmul_transposed(x, w, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// The tile's own product kernel alone (weights packed beforehand, as a tile keeps them): how
// much of a tile's ratio to the GEMM is the kernel rather than the periphery.
void BM_PackedProduct(benchmark::State& state) {
  const std::int64_t size = state.range(0), batch = state.range(1);
  const Tensor w = random_tensor({size, size}, 1, 0.05f);
  const Tensor x = random_tensor({batch, size}, 2, 1.0f);
  const simulator::PackedWeights packed(w);
  for (auto _ : state) {
    Tensor y({batch, size});
    const simulator::PackedProduct products[] = {{&x, &packed, &y}};
    simulator::packed_products(products, nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void run_tile(benchmark::State& state, const parameters::InferenceRPUConfig& config) {
  const std::int64_t size = state.range(0), batch = state.range(1);
  AnalogTile tile(size, size, config, 3);
  tile.set_weights(random_tensor({size, size}, 1, 0.05f));
  const Tensor x = random_tensor({batch, size}, 2, 1.0f);
  for (auto _ : state) {
    Tensor y = tile.forward(x);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_TileForward_Defaults(benchmark::State& state) { run_tile(state, parameters::InferenceRPUConfig{}); }

void BM_TileForward_PcmReadNoise(benchmark::State& state) {
  parameters::InferenceRPUConfig config;
  config.forward.w_noise = 0.0175;
  config.forward.w_noise_type = parameters::WeightNoiseType::PCM_READ;
  run_tile(state, config);
}

// program() + drift() of a tile against one batch-256 forward (goal: under 10x).
void BM_TileProgramAndDrift(benchmark::State& state) {
  const std::int64_t size = state.range(0);
  AnalogTile tile(size, size, parameters::InferenceRPUConfig{}, 3);
  tile.set_weights(random_tensor({size, size}, 1, 0.05f));
  for (auto _ : state) {
    tile.program();
    tile.drift(86400.0);
    benchmark::DoNotOptimize(tile.effective_weights().data());
  }
}

void shapes(benchmark::internal::Benchmark* benchmark) {
  benchmark->Args({512, 256})->Args({512, 1})->Args({2048, 256})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_FloatGemm)->Apply(shapes);
BENCHMARK(BM_PackedProduct)->Apply(shapes);
BENCHMARK(BM_TileForward_Defaults)->Apply(shapes);
BENCHMARK(BM_TileForward_PcmReadNoise)->Apply(shapes);
BENCHMARK(BM_TileProgramAndDrift)->Arg(512)->Arg(2048)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::tiles

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  for (const char* shape : {"512/256", "512/1", "2048/256"}) {
    const std::string baseline = std::string("BM_FloatGemm/") + shape + "/real_time";
    reporter.add_comparison(std::string("BM_TileForward_Defaults/") + shape, baseline);
    reporter.add_comparison(std::string("BM_TileForward_PcmReadNoise/") + shape, baseline);
    reporter.add_comparison(std::string("BM_PackedProduct/") + shape, baseline);
  }
  reporter.add_comparison("BM_TileProgramAndDrift/512", "BM_TileForward_Defaults/512/256/real_time");
  reporter.add_comparison("BM_TileProgramAndDrift/2048", "BM_TileForward_Defaults/2048/256/real_time");
  tessera::benchmarks::run_with_ratios(argc, argv, reporter);
  return 0;
}
