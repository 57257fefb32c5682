// Philox4x32-10 on many counter blocks at once with AVX-512 or AVX2 intrinsics, for the bulk
// fills of RandomStream. The words are the ones philox4x32_10 computes, bit for bit (tested
// against the single-block function on every SIMD level).
// Each counter word of a block sits in the low half of a 64-bit lane, so one 32x32->64 multiply
// (vpmuludq) gives both halves of a Philox product in place: a round is 2 multiplies, 2 shifts
// and 2 three-way xors per vector, and whatever the high halves hold is never read (vpmuludq
// reads the low halves only). GCC's own vectorisation of the scalar round used 64-bit
// multiplies (vpmullq, several uops each): 2.07 ns per uniform then, 0.8 ns with 32-bit lanes,
// measured on one thread.
// The vector operations carry their level's target and take vectors by reference (a vector
// passed by value across a target boundary would change the calling convention); the group
// function below is inlined into a wrapper compiled for the level (cpu/simd_targets.hpp).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/simd_targets.hpp"
#include "tessera/simulator/philox.hpp"

namespace tessera::simulator::philox_simd {


struct Avx512Lanes {
  static constexpr int kWidth = 16;  // counter blocks per group: two vectors of 8 lanes
  using Lanes = __m512i;
  // The zero-masked forms with every lane selected are the plain instructions; the unmasked
  // intrinsics trip GCC 12's -Wmaybe-uninitialized on their internal _mm512_undefined.
  static constexpr __mmask8 kAll64 = 0xFF;
  static constexpr __mmask16 kAll32 = 0xFFFF;
  TESSERA_ISA_AVX512 static void splat(Lanes& out, std::uint32_t value) {
    out = _mm512_set1_epi64(static_cast<long long>(value));
  }
  /// Low halves base + first, base + first + 1, ... (a carry into the high half is never read).
  TESSERA_ISA_AVX512 static void consecutive(Lanes& out, std::uint32_t base, int first) {
    out = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(base)),
                           _mm512_setr_epi64(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6,
                                             first + 7));
  }
  TESSERA_ISA_AVX512 static void product(Lanes& out, const Lanes& a, const Lanes& multiplier) {
    out = _mm512_maskz_mul_epu32(kAll64, a, multiplier);
  }
  TESSERA_ISA_AVX512 static void high_xor(Lanes& out, const Lanes& product, const Lanes& b, const Lanes& key) {
    out = _mm512_ternarylogic_epi64(_mm512_maskz_srli_epi64(kAll64, product, 32), b, key, 0x96);
  }
  /// uniform_from_bits of the low halves of `first` then `second`, 16 floats: (bits >> 9)
  /// converts exactly, + 0.5 and * 2^-23 are exact.
  TESSERA_ISA_AVX512 static void store_uniforms(const Lanes& first, const Lanes& second, float* out) {
    const __m512i low_halves = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i bits = _mm512_permutex2var_epi32(first, low_halves, second);
    const __m512 steps = _mm512_maskz_cvtepi32_ps(kAll32, _mm512_maskz_srli_epi32(kAll32, bits, 9));
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_add_ps(steps, _mm512_set1_ps(0.5f)), _mm512_set1_ps(1.0f / 8388608.0f)));
  }
};

struct Avx2Lanes {
  static constexpr int kWidth = 8;  // two vectors of 4 lanes
  using Lanes = __m256i;
  TESSERA_ISA_AVX2 static void splat(Lanes& out, std::uint32_t value) {
    out = _mm256_set1_epi64x(static_cast<long long>(value));
  }
  TESSERA_ISA_AVX2 static void consecutive(Lanes& out, std::uint32_t base, int first) {
    out = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(base)),
                           _mm256_setr_epi64x(first, first + 1, first + 2, first + 3));
  }
  TESSERA_ISA_AVX2 static void product(Lanes& out, const Lanes& a, const Lanes& multiplier) {
    out = _mm256_mul_epu32(a, multiplier);
  }
  TESSERA_ISA_AVX2 static void high_xor(Lanes& out, const Lanes& product, const Lanes& b, const Lanes& key) {
    out = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(product, 32), b), key);
  }
  TESSERA_ISA_AVX2 static void store_uniforms(const Lanes& first, const Lanes& second, float* out) {
    const __m256i low_halves = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m256i bits = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(first, low_halves),
                                            _mm256_permutevar8x32_epi32(second, low_halves), 0xF0);
    const __m256 steps = _mm256_cvtepi32_ps(_mm256_srli_epi32(bits, 9));
    _mm256_storeu_ps(out,
                     _mm256_mul_ps(_mm256_add_ps(steps, _mm256_set1_ps(0.5f)), _mm256_set1_ps(1.0f / 8388608.0f)));
  }
};

/// Uniforms of the Ops::kWidth consecutive blocks first_block, first_block + 1, ...: lane l of
/// block first_block + j goes to lanes[l][j]. The caller keeps the low counter word from
/// wrapping inside the group (the high word is the same for all blocks).
template <class Ops>
inline void uniform_blocks(std::uint64_t first_block, std::uint64_t seed, std::uint64_t stream_id,
                           float* const lanes[4]) {
  using namespace philox_detail;
  using Lanes = typename Ops::Lanes;
  constexpr int kHalf = Ops::kWidth / 2;
  Lanes c0[2], c1[2], c2[2], c3[2];
  for (int h = 0; h < 2; ++h) {
    Ops::consecutive(c0[h], static_cast<std::uint32_t>(first_block), h * kHalf);
    Ops::splat(c1[h], static_cast<std::uint32_t>(first_block >> 32));
    Ops::splat(c2[h], static_cast<std::uint32_t>(stream_id));
    Ops::splat(c3[h], static_cast<std::uint32_t>(stream_id >> 32));
  }
  auto k0 = static_cast<std::uint32_t>(seed);
  auto k1 = static_cast<std::uint32_t>(seed >> 32);
  Lanes m0, m1, key0, key1, product0, product1;
  Ops::splat(m0, kMultiplier0);
  Ops::splat(m1, kMultiplier1);
  for (int round = 0; round < 10; ++round) {
    Ops::splat(key0, k0);
    Ops::splat(key1, k1);
    for (int h = 0; h < 2; ++h) {
      Ops::product(product0, c0[h], m0);
      Ops::product(product1, c2[h], m1);
      Ops::high_xor(c0[h], product1, c1[h], key0);
      c1[h] = product1;
      Ops::high_xor(c2[h], product0, c3[h], key1);
      c3[h] = product0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  Ops::store_uniforms(c0[0], c0[1], lanes[0]);
  Ops::store_uniforms(c1[0], c1[1], lanes[1]);
  Ops::store_uniforms(c2[0], c2[1], lanes[2]);
  Ops::store_uniforms(c3[0], c3[1], lanes[3]);
}

}  // namespace tessera::simulator::philox_simd
