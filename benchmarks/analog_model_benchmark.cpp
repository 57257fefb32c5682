// Whole-model analog inference against float: the bundled ResNet (one depthwise-separable block)
// and a MobileNetV2-style model (benchmarks/models/mobilenet_small.onnx, from
// scripts/make_benchmark_models.py: two inverted-residual blocks, most of its work in depthwise
// 3x3 convolutions, whose groups are 1 x 9 tiles), every Conv and Gemm on tiles with aihwkit's
// PCM defaults, drifted to 1 h, batch 256 Fashion-MNIST images, the threads OpenMP gives it.
// Printed as ratios to the float model of the same run (goal for the MobileNet: <= 3x).
//   build/benchmarks/analog_model_benchmark
#include <benchmark/benchmark.h>

#include "fashion_mnist_images.hpp"
#include "ratio_reporter.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

std::string model_path(int model) {
  return model == 0 ? TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx"
                    : TESSERA_SOURCE_DIR "/benchmarks/models/mobilenet_small.onnx";
}

void BM_Model(benchmark::State& state, int model, bool analog) {
  const Tensor images = benchmarks::fashion_mnist_test_images();
  Model m = load_onnx(model_path(model));
  if (analog) {
    m = convert_to_analog(std::move(m), AnalogConversion{});
    m.drift(3600.0);
  }
  for (auto _ : state) {
    Tensor logits = m.forward(images);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * images.dim(0));
}

BENCHMARK_CAPTURE(BM_Model, resnet_float, 0, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet_pcm, 0, true)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, mobilenet_float, 1, false)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, mobilenet_pcm, 1, true)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::nn

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  for (const char* model : {"resnet", "mobilenet"}) {
    const std::string prefix = std::string("BM_Model/") + model;
    reporter.add_comparison(prefix + "_pcm", prefix + "_float/real_time");
  }
  tessera::benchmarks::run_with_ratios(argc, argv, reporter, 5);
  return 0;
}
