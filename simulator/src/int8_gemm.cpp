#include "tessera/simulator/int8_gemm.hpp"

#include <immintrin.h>

// GCC 12 reports its own _mm512_cvtepi32_ps (built on _mm512_undefined_ps) as maybe
// uninitialized; a known false positive in the intrinsics header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tessera::simulator {
namespace {

constexpr std::int64_t kBlock = PackedInt8Weights::kBlock;
constexpr std::int64_t kStep = 4;  // k values per vpdpbusd lane

// Rows of `a` widened to a multiple of 4 bytes (zeros), when they are not already.
std::vector<std::uint8_t> padded_rows(std::span<const std::uint8_t> a, std::int64_t rows, std::int64_t in,
                                      std::int64_t padded) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows * padded), 0);
  for (std::int64_t m = 0; m < rows; ++m) std::copy_n(a.data() + m * in, in, out.data() + m * padded);
  return out;
}

// The weight at (n, k) in the packed layout: panel n / 16, step k / 4, lane n % 16, byte k % 4.
std::int32_t packed_weight(const PackedInt8Weights& w, std::int64_t n, std::int64_t k) {
  return w.panel(n / kBlock)[(k / kStep) * kBlock * kStep + (n % kBlock) * kStep + k % kStep];
}

void gemm_portable(const std::uint8_t* a, std::int64_t lda, std::int64_t rows, const PackedInt8Weights& w,
                   std::int32_t* acc) {
#pragma omp parallel for schedule(static)
  for (std::int64_t m = 0; m < rows; ++m) {
    for (std::int64_t n = 0; n < w.out(); ++n) {
      std::int32_t sum = 0;
      for (std::int64_t k = 0; k < w.in(); ++k)
        sum += static_cast<std::int32_t>(a[m * lda + k]) * packed_weight(w, n, k);
      acc[m * w.out() + n] = sum;
    }
  }
}

// What a tile does with its int32 sums: store them, or requantize them to float on the way
// out: y = (acc - zero_term[n]) * scale[n] + bias[n] (the int8_linear epilogue).
struct Epilogue {
  std::int32_t* acc = nullptr;  // int32 output, or
  float* y = nullptr;           // float output with:
  const std::int32_t* zero_terms = nullptr;
  const float* scales = nullptr;
  const float* bias = nullptr;  // padded to whole panels
};

// MR rows x 32 columns (two panels) of accumulators stay in 2 * MR zmm registers over all of k.
template <int MR>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_tile(const std::uint8_t* a, std::int64_t lda,
                                                                      const std::int8_t* p0, const std::int8_t* p1,
                                                                      std::int64_t steps, const Epilogue& out,
                                                                      std::int64_t offset, std::int64_t ldc,
                                                                      __mmask16 mask0, __mmask16 mask1) {
  __m512i c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_si512();
  for (std::int64_t s = 0; s < steps; ++s) {
    const __m512i b0 = _mm512_loadu_si512(p0 + s * kBlock * kStep);
    const __m512i b1 = _mm512_loadu_si512(p1 + s * kBlock * kStep);
    for (int r = 0; r < MR; ++r) {
      std::int32_t four = 0;
      std::memcpy(&four, a + r * lda + s * kStep, sizeof four);
      const __m512i broadcast = _mm512_set1_epi32(four);
      c0[r] = _mm512_dpbusd_epi32(c0[r], broadcast, b0);
      c1[r] = _mm512_dpbusd_epi32(c1[r], broadcast, b1);
    }
  }
  const std::int64_t column = offset % ldc;
  if (out.acc != nullptr) {
    for (int r = 0; r < MR; ++r) {
      _mm512_mask_storeu_epi32(out.acc + offset + r * ldc, mask0, c0[r]);
      if (mask1 != 0) _mm512_mask_storeu_epi32(out.acc + offset + r * ldc + kBlock, mask1, c1[r]);
    }
    return;
  }
  const __m512i z0 = _mm512_loadu_si512(out.zero_terms + column),
                z1 = _mm512_loadu_si512(out.zero_terms + column + kBlock);
  const __m512 s0 = _mm512_loadu_ps(out.scales + column), s1 = _mm512_loadu_ps(out.scales + column + kBlock);
  const __m512 d0 = _mm512_loadu_ps(out.bias + column), d1 = _mm512_loadu_ps(out.bias + column + kBlock);
  for (int r = 0; r < MR; ++r) {
    // (acc - zero) * scale + bias, rounded twice like the scalar code (no FMA contraction).
    const __m512 y0 = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c0[r], z0)), s0), d0);
    const __m512 y1 = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c1[r], z1)), s1), d1);
    _mm512_mask_storeu_ps(out.y + offset + r * ldc, mask0, y0);
    if (mask1 != 0) _mm512_mask_storeu_ps(out.y + offset + r * ldc + kBlock, mask1, y1);
  }
}

using TileKernel = void (*)(const std::uint8_t*, std::int64_t, const std::int8_t*, const std::int8_t*, std::int64_t,
                            const Epilogue&, std::int64_t, std::int64_t, __mmask16, __mmask16);
constexpr TileKernel kTiles[] = {vnni_tile<1>, vnni_tile<2>, vnni_tile<3>, vnni_tile<4>,
                                 vnni_tile<5>, vnni_tile<6>, vnni_tile<7>, vnni_tile<8>};
constexpr std::int64_t kRowsPerTile = 8;

__mmask16 lanes(std::int64_t count) {
  return count <= 0 ? 0 : count >= kBlock ? 0xffff : static_cast<__mmask16>((1u << count) - 1u);
}

void gemm_vnni(const std::uint8_t* a, std::int64_t lda, std::int64_t rows, const PackedInt8Weights& w,
               const Epilogue& out) {
  const std::int64_t panels = (w.out() + kBlock - 1) / kBlock;
  const std::int64_t pairs = (panels + 1) / 2;
  const std::int64_t steps = w.padded_in() / kStep;
#pragma omp parallel for schedule(static)
  for (std::int64_t pair = 0; pair < pairs; ++pair) {
    const std::int64_t first = 2 * pair;
    const bool two = first + 1 < panels;
    const std::int8_t* p0 = w.panel(first);
    const std::int8_t* p1 = two ? w.panel(first + 1) : p0;
    const __mmask16 mask0 = lanes(w.out() - first * kBlock);
    const __mmask16 mask1 = two ? lanes(w.out() - (first + 1) * kBlock) : 0;
    for (std::int64_t m = 0; m < rows; m += kRowsPerTile) {
      const std::int64_t count = std::min(kRowsPerTile, rows - m);
      kTiles[count - 1](a + m * lda, lda, p0, p1, steps, out, m * w.out() + first * kBlock, w.out(), mask0, mask1);
    }
  }
}

// Runs the VNNI kernel on rows padded to whole 4-byte steps when `in` is not a multiple of 4.
void run_vnni(std::span<const std::uint8_t> a, std::int64_t rows, const PackedInt8Weights& w, const Epilogue& out) {
  if (w.padded_in() == w.in()) {
    gemm_vnni(a.data(), w.in(), rows, w, out);
  } else {
    const std::vector<std::uint8_t> padded = padded_rows(a, rows, w.in(), w.padded_in());
    gemm_vnni(padded.data(), w.padded_in(), rows, w, out);
  }
}

}  // namespace

PackedInt8Weights::PackedInt8Weights(std::span<const std::int8_t> weights, std::int64_t out, std::int64_t in)
    : out_(out), in_(in), padded_in_((in + kStep - 1) / kStep * kStep) {
  if (out < 1 || in < 1 || static_cast<std::int64_t>(weights.size()) != out * in) {
    throw std::invalid_argument("PackedInt8Weights: " + std::to_string(weights.size()) + " weights for " +
                                std::to_string(out) + " x " + std::to_string(in));
  }
  const std::int64_t panels = (out + kBlock - 1) / kBlock;
  packed_.assign(static_cast<std::size_t>(panels * kBlock * padded_in_), 0);
  row_sums_.assign(static_cast<std::size_t>(out), 0);
  for (std::int64_t n = 0; n < out; ++n) {
    for (std::int64_t k = 0; k < in; ++k) {
      const std::int8_t value = weights[static_cast<std::size_t>(n * in + k)];
      packed_[static_cast<std::size_t>((n / kBlock) * kBlock * padded_in_ + (k / kStep) * kBlock * kStep +
                                       (n % kBlock) * kStep + k % kStep)] = value;
      row_sums_[static_cast<std::size_t>(n)] += value;
    }
  }
}

bool int8_gemm_uses_vnni() {
  static const bool vnni =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  return vnni;
}

void int8_gemm(std::span<const std::uint8_t> a, std::int64_t rows, const PackedInt8Weights& w,
               std::span<std::int32_t> acc, Int8Kernel kernel) {
  if (static_cast<std::int64_t>(a.size()) != rows * w.in() || static_cast<std::int64_t>(acc.size()) != rows * w.out()) {
    throw std::invalid_argument("int8_gemm: operand sizes do not match " + std::to_string(rows) + " x " +
                                std::to_string(w.in()) + " times " + std::to_string(w.in()) + " x " +
                                std::to_string(w.out()));
  }
  if (rows == 0) return;
  if (kernel == Int8Kernel::portable || !int8_gemm_uses_vnni()) {
    gemm_portable(a.data(), w.in(), rows, w, acc.data());
    return;
  }
  run_vnni(a, rows, w, Epilogue{.acc = acc.data()});
}

void int8_linear(std::span<const std::uint8_t> a, std::int64_t rows, const PackedInt8Weights& w, float a_scale,
                 std::int32_t a_zero, std::span<const float> w_scales, std::span<const float> bias,
                 std::span<float> y) {
  const auto out = static_cast<std::size_t>(w.out());
  if (w_scales.size() != out && w_scales.size() != 1) throw std::invalid_argument("int8_linear: w_scales size");
  if (!bias.empty() && bias.size() != out) throw std::invalid_argument("int8_linear: bias size");
  if (static_cast<std::int64_t>(y.size()) != rows * w.out() || static_cast<std::int64_t>(a.size()) != rows * w.in()) {
    throw std::invalid_argument("int8_linear: operand sizes do not match the weights");
  }
  // Per output channel, padded to whole panels for the vector epilogue.
  const std::size_t padded = static_cast<std::size_t>((w.out() + 2 * kBlock - 1) / (2 * kBlock) * 2 * kBlock);
  std::vector<float> scales(padded, 0.0f), offsets(padded, 0.0f);
  std::vector<std::int32_t> zero_terms(padded, 0);
  for (std::size_t n = 0; n < out; ++n) {
    scales[n] = a_scale * w_scales[w_scales.size() == 1 ? 0 : n];
    zero_terms[n] = a_zero * w.row_sum(static_cast<std::int64_t>(n));
    offsets[n] = bias.empty() ? 0.0f : bias[n];
  }
  if (rows == 0) return;
  if (int8_gemm_uses_vnni()) {
    run_vnni(a, rows, w, Epilogue{nullptr, y.data(), zero_terms.data(), scales.data(), offsets.data()});
    return;
  }
  std::vector<std::int32_t> acc(static_cast<std::size_t>(rows) * out);
  int8_gemm(a, rows, w, acc, Int8Kernel::portable);
#pragma omp parallel for schedule(static)
  for (std::int64_t m = 0; m < rows; ++m) {
    for (std::size_t n = 0; n < out; ++n) {
      const std::size_t k = static_cast<std::size_t>(m) * out + n;
      y[k] = static_cast<float>(acc[k] - zero_terms[n]) * scales[n] + offsets[n];
    }
  }
}

}  // namespace tessera::simulator
