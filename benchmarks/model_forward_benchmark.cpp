// Whole-model float inference: the bundled Fashion-MNIST CNN (examples/fashion_mnist) on a
// batch of 256 images, with the threads OpenMP gives it. benchmarks/model_vs_torch.sh runs this
// and torch 1.13 on the same weights and batch and prints the ratio (goal: within 1.5x).
//   build/benchmarks/model_forward_benchmark
#include <benchmark/benchmark.h>

#include "tessera/nn/onnx_import.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::nn {
namespace {

void BM_FashionCnnForward(benchmark::State& state) {
  Model model = load_onnx(TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx");
  Tensor images({state.range(0), 1, 28, 28});
  simulator::RandomStream(3).fill_normal(images.values());
  for (auto _ : state) {
    Tensor logits = model.forward(images);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_FashionCnnForward)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::nn

BENCHMARK_MAIN();
