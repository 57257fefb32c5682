// Integer matrix products for quantized layers: uint8 activations (asymmetric, zero point) times
// int8 weights (symmetric), accumulated exactly in int32, then requantized to float:
//   acc[m, n] = sum_k a[m, k] * w[n, k]                       (int32, exact)
//   y[m, n]   = a_scale * w_scale[n] * (acc[m, n] - a_zero * sum_k w[n, k]) + bias[n]
// which is the float product of the dequantized operands, computed without rounding until the
// last step. AVX512-VNNI (vpdpbusd) when the CPU has it, a portable loop otherwise; both give
// the same integers.
//   PackedInt8Weights w(weights_int8, out, in);        // once per layer
//   int8_linear(a_uint8, batch, w, a_scale, a_zero, w_scales, bias, y);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tessera::simulator {

/// int8 weights [out, in] laid out for the kernel, with their row sums.
class PackedInt8Weights {
 public:
  PackedInt8Weights(std::span<const std::int8_t> weights, std::int64_t out, std::int64_t in);

  std::int64_t out() const { return out_; }
  std::int64_t in() const { return in_; }
  std::int64_t padded_in() const { return padded_in_; }
  const std::int8_t* panel(std::int64_t block) const { return packed_.data() + block * padded_in_ * kBlock; }
  std::int32_t row_sum(std::int64_t n) const { return row_sums_[static_cast<std::size_t>(n)]; }

  /// Columns per packed panel: one 512-bit register of int32 accumulators.
  static constexpr std::int64_t kBlock = 16;

 private:
  std::int64_t out_;
  std::int64_t in_;
  std::int64_t padded_in_;  // in rounded up to a multiple of 4 (one vpdpbusd step)
  std::vector<std::int8_t> packed_;
  std::vector<std::int32_t> row_sums_;
};

enum class Int8Kernel { automatic, portable };

/// acc[m, n] = sum_k a[m, k] * w[n, k] for a: uint8 [rows, w.in()] row-major; acc: [rows, w.out()].
/// `portable` forces the plain loop (tests compare the two).
void int8_gemm(std::span<const std::uint8_t> a, std::int64_t rows, const PackedInt8Weights& w,
               std::span<std::int32_t> acc, Int8Kernel kernel = Int8Kernel::automatic);

/// The requantized linear layer above; y: float [rows, w.out()]. w_scales has w.out() entries
/// (per channel) or one (per tensor); bias is empty or has w.out() entries.
void int8_linear(std::span<const std::uint8_t> a, std::int64_t rows, const PackedInt8Weights& w, float a_scale,
                 std::int32_t a_zero, std::span<const float> w_scales, std::span<const float> bias, std::span<float> y);

/// Whether int8_gemm runs on AVX512-VNNI on this CPU (else the portable loop).
bool int8_gemm_uses_vnni();

}  // namespace tessera::simulator
