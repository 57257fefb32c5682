// Quantize-dequantize of 1M floats, per-tensor and per-channel, against a plain copy of the
// same buffer (allocation included on both sides). Goal: within 4x of the copy.
//   build/benchmarks/quantize_benchmark [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include "ratio_reporter.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::simulator {
namespace {

constexpr std::int64_t kRows = 1024;
constexpr std::int64_t kColumns = 1024;

Tensor input_tensor() {
  Tensor tensor({kRows, kColumns});
  RandomStream(7).fill_normal(tensor.values());
  return tensor;
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * kRows * kColumns * static_cast<std::int64_t>(sizeof(float)));
}

void BM_Copy(benchmark::State& state) {
  const Tensor input = input_tensor();
  for (auto _ : state) {
    Tensor output = input;
    benchmark::DoNotOptimize(output.data());
  }
  set_bytes(state);
}

void run_quantizer(benchmark::State& state, QuantizerOptions options) {
  const Tensor input = input_tensor();
  QuantizeDequantize quantizer(std::move(options));
  {
    auto calibration = quantizer.compute_encodings();
    quantizer(input);
  }
  for (auto _ : state) {
    Tensor output = quantizer(input);
    benchmark::DoNotOptimize(output.data());
  }
  set_bytes(state);
}

void BM_QuantizeDequantize_PerTensor(benchmark::State& state) {
  run_quantizer(state, {.bitwidth = 8, .symmetric = false});
}

void BM_QuantizeDequantize_PerChannel_Axis0(benchmark::State& state) {
  run_quantizer(state, {.shape = {kRows, 1}, .bitwidth = 8, .symmetric = true});
}

void BM_QuantizeDequantize_PerChannel_LastAxis(benchmark::State& state) {
  run_quantizer(state, {.shape = {kColumns}, .bitwidth = 8, .symmetric = true});
}

void BM_QuantizeDequantize_PerBlock_64(benchmark::State& state) {
  run_quantizer(state, {.shape = {kRows, kColumns / 64}, .bitwidth = 4, .symmetric = true, .block_size = {1, 64}});
}

BENCHMARK(BM_Copy)->UseRealTime();
BENCHMARK(BM_QuantizeDequantize_PerTensor)->UseRealTime();
BENCHMARK(BM_QuantizeDequantize_PerChannel_Axis0)->UseRealTime();
BENCHMARK(BM_QuantizeDequantize_PerChannel_LastAxis)->UseRealTime();
BENCHMARK(BM_QuantizeDequantize_PerBlock_64)->UseRealTime();

}  // namespace
}  // namespace tessera::simulator

int main(int argc, char** argv) {
  tessera::benchmarks::RatioReporter reporter;
  reporter.add_comparison("BM_QuantizeDequantize", "BM_Copy/real_time");
  tessera::benchmarks::run_with_ratios(argc, argv, reporter);
  return 0;
}
