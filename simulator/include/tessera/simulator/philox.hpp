// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a counter-based generator, i.e. a pure function (counter, key) -> 4 random words. Written
// once for host and device, so CPU and CUDA backends draw bit-identical uniforms.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "tessera/simulator/fast_math.hpp"

namespace tessera::simulator {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

namespace philox_detail {
inline constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
inline constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

TESSERA_HOST_DEVICE constexpr void round(PhiloxCounter& counter, const PhiloxKey& key) {
  const std::uint64_t product0 = std::uint64_t{kMultiplier0} * counter[0];
  const std::uint64_t product1 = std::uint64_t{kMultiplier1} * counter[2];
  counter = {static_cast<std::uint32_t>(product1 >> 32) ^ counter[1] ^ key[0], static_cast<std::uint32_t>(product1),
             static_cast<std::uint32_t>(product0 >> 32) ^ counter[3] ^ key[1], static_cast<std::uint32_t>(product0)};
}
}  // namespace philox_detail

/// Ten rounds of Philox4x32 on one 128-bit counter.
TESSERA_HOST_DEVICE constexpr PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int i = 0; i < 10; ++i) {
    philox_detail::round(counter, key);
    if (i < 9) {
      key[0] += philox_detail::kWeyl0;
      key[1] += philox_detail::kWeyl1;
    }
  }
  return counter;
}

/// Maps 32 random bits to a float uniform in the open interval (0, 1): the top 23 bits plus
/// half a step, (k + 0.5) / 2^23. Every value is exact in float, and neither 0 nor 1 occurs
/// (log-safe); with 24 bits the top value 1 - 2^-25 would round to 1.0f.
TESSERA_HOST_DEVICE constexpr float uniform_from_bits(std::uint32_t bits) {
  return (static_cast<float>(bits >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

/// sin and cos of 2 pi t for t in [0, 1), branch-free: reduce to r in [-pi/4, pi/4] and a
/// quadrant, then Taylor polynomials to r^9 / r^8 (truncation < 3e-9).
TESSERA_HOST_DEVICE inline void sincos_two_pi(float t, float& sine, float& cosine) {
  const float x = t - round_nearest_even(t);           // [-1/2, 1/2]
  const float quarter = round_nearest_even(4.0f * x);  // -2 .. 2
  const float r = (x - 0.25f * quarter) * 6.28318530717958648f;
  const float r2 = r * r;
  const float s = r * (1.0f + r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040 + r2 * (1.0f / 362880)))));
  const float c = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720 + r2 * (1.0f / 40320))));
  const int quadrant = static_cast<int>(quarter) & 3;  // angle = r + quadrant * pi / 2
  sine = quadrant == 0 ? s : (quadrant == 1 ? c : (quadrant == 2 ? -s : -c));
  cosine = quadrant == 0 ? c : (quadrant == 1 ? -s : (quadrant == 2 ? -c : s));
}

/// Box-Muller: two uniforms in (0, 1) -> two independent standard normals.
TESSERA_HOST_DEVICE inline void box_muller(float u0, float u1, float& z0, float& z1) {
  const float radius = std::sqrt(-2.0f * log_positive(u0));
  float sine = 0.0f, cosine = 0.0f;
  sincos_two_pi(u1, sine, cosine);
  z0 = radius * cosine;
  z1 = radius * sine;
}

}  // namespace tessera::simulator

namespace tessera::simulator {

/// The 4 random words of counter block `block` of stream (seed, stream_id): Philox key = seed,
/// counter = (block, stream_id). RandomStream and the CUDA kernels both call this.
TESSERA_HOST_DEVICE constexpr PhiloxCounter stream_block_bits(std::uint64_t seed, std::uint64_t stream_id,
                                                              std::uint64_t block) {
  return philox4x32_10({static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                        static_cast<std::uint32_t>(stream_id), static_cast<std::uint32_t>(stream_id >> 32)},
                       {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

/// Element `element` of a stream as a uniform in (0, 1): lane element % 4 of block element / 4.
TESSERA_HOST_DEVICE inline float stream_uniform(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t element) {
  return uniform_from_bits(stream_block_bits(seed, stream_id, element / 4)[element % 4]);
}

/// Element `element` of a stream as a standard normal: Box-Muller on lanes (0, 1) and (2, 3).
TESSERA_HOST_DEVICE inline float stream_normal(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t element) {
  const PhiloxCounter bits = stream_block_bits(seed, stream_id, element / 4);
  const unsigned pair = static_cast<unsigned>(element % 4) / 2;
  float z0 = 0.0f, z1 = 0.0f;
  box_muller(uniform_from_bits(bits[2 * pair]), uniform_from_bits(bits[2 * pair + 1]), z0, z1);
  return element % 2 == 0 ? z0 : z1;
}

}  // namespace tessera::simulator
