// The CUDA backend against its baselines, in the same run (issue 7):
// - tile forward 4096x4096, batch 1024, PCM preset (aihwkit's inference defaults), input from
//   and output to the host: goal within 1.5x of a cuBLAS SGEMM of the same shape on
//   device-resident operands;
// - one Fashion-MNIST sweep point (the bundled CNN on PCM tiles, 5,000 test images): the GPU
//   faster than the CPU.
// Without a device every benchmark reports itself skipped with the reason.
#include <benchmark/benchmark.h>

#include "ratio_reporter.hpp"
#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/tiles/analog_tile.hpp"

namespace tessera {
namespace {

using simulator::Tensor;

bool skipped_without_device(benchmark::State& state) {
  const auto& probe = simulator::cuda::availability();
  if (!probe.available) state.SkipWithError(("CUDA backend unavailable: " + probe.reason).c_str());
  return !probe.available;
}

Tensor random_tensor(simulator::Shape shape, std::uint64_t stream, float stddev) {
  Tensor tensor(std::move(shape));
  simulator::RandomStream(11, stream).fill_normal(tensor.values(), 0, 0.0f, stddev);
  return tensor;
}

void BM_CublasSgemm(benchmark::State& state) {
  if (skipped_without_device(state)) return;
  simulator::cuda::SgemmBaseline gemm(state.range(1), state.range(0), state.range(0));
  for (auto _ : state) gemm.run();
}

void BM_CudaTileForward_Pcm(benchmark::State& state) {
  if (skipped_without_device(state)) return;
  const std::int64_t size = state.range(0), batch = state.range(1);
  tiles::AnalogTile tile(size, size, parameters::InferenceRPUConfig{}, 3);
  tile.set_weights(random_tensor({size, size}, 1, 0.05f));
  tile.set_backend(simulator::Backend::cuda);
  const Tensor x = random_tensor({batch, size}, 2, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(tile.forward(x).data());
}

void run_sweep_point(benchmark::State& state, simulator::Backend backend) {
  if (backend == simulator::Backend::cuda && skipped_without_device(state)) return;
  const std::string data = "/usr/share/datasets/fashion-mnist/";
  const experiments::Dataset images = experiments::load_idx_dataset(
      data + "t10k-images-idx3-ubyte.gz", data + "t10k-labels-idx1-ubyte.gz", {0.2860f, 0.3530f}, 5000);
  nn::Model model = nn::convert_to_analog(nn::load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx"),
                                          nn::AnalogConversion{});
  model.set_backend(backend);
  for (auto _ : state) {
    model.program();
    model.drift(86400.0);
    benchmark::DoNotOptimize(model.forward(images.images).data());
  }
}

void BM_SweepPoint_Cpu(benchmark::State& state) { run_sweep_point(state, simulator::Backend::cpu); }
void BM_SweepPoint_Cuda(benchmark::State& state) { run_sweep_point(state, simulator::Backend::cuda); }

BENCHMARK(BM_CublasSgemm)->Args({4096, 1024})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaTileForward_Pcm)->Args({4096, 1024})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SweepPoint_Cpu)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SweepPoint_Cuda)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  reporter.add_comparison("BM_CudaTileForward_Pcm/4096/1024", "BM_CublasSgemm/4096/1024/real_time");
  reporter.add_comparison("BM_SweepPoint_Cuda", "BM_SweepPoint_Cpu/iterations:3/real_time");
  tessera::benchmarks::run_with_ratios(argc, argv, reporter);
  return 0;
}
