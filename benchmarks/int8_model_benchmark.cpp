// Whole-model int8 inference against float: the bundled CNN and ResNet, W8A8 (digital_int8,
// BatchNorms folded, activations fused, one 8-bit quantizer on the model's input), calibrated
// on 256 test images, then every Conv and Gemm on the int8 kernel (Model::use_integer_kernels
// with encoding propagation), batch 256, the threads OpenMP gives it. Printed as ratios to the
// float model of the same run; the fake-quant twin (what a quantization study runs) is shown
// too. The int8 side pays for its activation quantizers, which the float model does not have.
//   build/benchmarks/int8_model_benchmark
#include <benchmark/benchmark.h>

#include "fashion_mnist_images.hpp"
#include "ratio_reporter.hpp"
#include "tessera/experiments/presets.hpp"
#include "tessera/nn/activation_fusion.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

enum class Mode { float_model, fake_quant, int8 };

std::string model_path(int model) {
  return model == 0 ? TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx"
                    : TESSERA_SOURCE_DIR "/examples/fashion_mnist_resnet/fmnist_resnet.onnx";
}

Model prepared(int model, Mode mode, const Tensor& images) {
  Model folded = fold_batch_norms(load_onnx(model_path(model)));
  if (mode == Mode::float_model) return folded;
  parameters::QuantizationMap map = *experiments::load_preset("digital_int8").quantization;
  parameters::ActivationQuantConfig input;
  input.n_bits = 8;
  map.input_activation_qconfig_map = {{folded.modules().front().name, input}};
  Model quantized = fuse_activations(convert_to_quantized(std::move(folded), map), map);
  quantized.compute_encodings([&](Model& m) { m.forward(images); });
  if (mode == Mode::int8) quantized.use_integer_kernels();
  return quantized;
}

void BM_Model(benchmark::State& state, int model, Mode mode) {
  const Tensor images = benchmarks::fashion_mnist_test_images();
  Model m = prepared(model, mode, images);
  for (auto _ : state) {
    Tensor logits = m.forward(images);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * images.dim(0));
}

BENCHMARK_CAPTURE(BM_Model, cnn_float, 0, Mode::float_model)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, cnn_fake_quant, 0, Mode::fake_quant)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, cnn_int8, 0, Mode::int8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet_float, 1, Mode::float_model)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet_fake_quant, 1, Mode::fake_quant)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet_int8, 1, Mode::int8)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::nn

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  for (const char* model : {"cnn", "resnet"}) {
    const std::string prefix = std::string("BM_Model/") + model;
    reporter.add_comparison(prefix + "_fake_quant", prefix + "_float/real_time");
    reporter.add_comparison(prefix + "_int8", prefix + "_float/real_time");
  }
  tessera::benchmarks::run_with_ratios(argc, argv, reporter, 5);
  return 0;
}
