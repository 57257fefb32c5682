// Named, seeded streams of counter-addressed random numbers (ARCHITECTURE.md decision 3).
// Element i of a stream is a pure function of (seed, stream id, i): Philox key = seed,
// counter = (i / 4, stream id), lane i % 4. So any split of the work over threads, batches
// or devices draws the same numbers, and streams named differently never overlap.
//   RandomStream programming = RandomStream(seed).derive("features.0").derive("programming");
//   programming.fill_normal(noise, /*offset=*/0);
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tessera/simulator/philox.hpp"

namespace tessera::simulator {

class RandomStream {
 public:
  explicit RandomStream(std::uint64_t seed, std::uint64_t stream_id = 0) : seed_(seed), stream_id_(stream_id) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream_id() const { return stream_id_; }

  /// A sub-stream for a named purpose or module ("features.0", "read_noise").
  RandomStream derive(std::string_view name) const;
  /// A sub-stream for a numbered occasion (e.g. the n-th forward call).
  RandomStream derive(std::uint64_t index) const;

  /// The 4 uniforms of counter block `block` (elements 4*block .. 4*block+3).
  std::array<float, 4> uniform_block(std::uint64_t block) const;
  /// The 4 standard normals of counter block `block` (Box-Muller on lanes 0,1 and 2,3).
  std::array<float, 4> normal_block(std::uint64_t block) const;

  /// out[k] = uniform element (offset + k), in (0, 1).
  void fill_uniform(std::span<float> out, std::uint64_t offset = 0) const;
  /// out[k] = mean + stddev * normal element (offset + k).
  void fill_normal(std::span<float> out, std::uint64_t offset = 0, float mean = 0.0f, float stddev = 1.0f) const;

 private:
  std::uint64_t seed_;
  std::uint64_t stream_id_;
};

/// 64-bit FNV-1a of a name, finished with a SplitMix64 mix: the id of a named stream.
std::uint64_t hash_name(std::string_view name);
/// SplitMix64 finaliser: a bijective mix of 64 bits.
std::uint64_t mix64(std::uint64_t value);

}  // namespace tessera::simulator
