#include "tessera/simulator/random_stream.hpp"

#include <algorithm>
#include <type_traits>

#include "cpu/simd_targets.hpp"
#include "philox_simd.hpp"

namespace tessera::simulator {
namespace {

// Counter blocks are generated in chunks: each Philox round is applied to all blocks of a
// chunk in one loop, which the compiler vectorises; Box-Muller likewise.
constexpr int kChunkBlocks = 64;
// Below this many chunks a fill runs on the calling thread: thread start-up would dominate.
constexpr std::int64_t kParallelChunks = 64;

struct ChunkLanes {
  alignas(64) std::array<std::array<float, kChunkBlocks>, 4> values;
};

/// What a fill turns the uniforms into.
enum class Draw { uniform, normal, scaled_normal };

/// One fill: out[k] = element (offset + k) of (seed, stream_id) as `draw`.
struct Fill {
  float* out;
  std::uint64_t count;
  std::uint64_t offset;
  std::uint64_t seed;
  std::uint64_t stream_id;
  Draw draw;
  float mean;
  float stddev;
};

// The uniforms of the first `blocks` (at least) of a chunk's counter blocks: philox4x32_10 of
// each, in vector groups on the AVX levels (a group whose low counter word would wrap goes block
// by block).
template <class Isa>
inline void philox_chunk(std::uint64_t first_block, int blocks, std::uint64_t seed, std::uint64_t stream_id,
                         ChunkLanes& lanes) {
  int j = 0;
  if constexpr (Isa::kLevel != SimdLevel::generic) {
    using Ops = std::conditional_t<Isa::kLevel == SimdLevel::avx512, philox_simd::Avx512Lanes, philox_simd::Avx2Lanes>;
    constexpr int kWidth = Ops::kWidth;
    static_assert(kChunkBlocks % kWidth == 0);
    for (; j < blocks; j += kWidth) {
      const std::uint64_t block = first_block + static_cast<std::uint64_t>(j);
      if (static_cast<std::uint32_t>(block) > 0xFFFFFFFFu - (kWidth - 1)) break;
      float* const targets[4] = {&lanes.values[0][j], &lanes.values[1][j], &lanes.values[2][j], &lanes.values[3][j]};
      philox_simd::uniform_blocks<Ops>(block, seed, stream_id, targets);
    }
  }
  for (; j < blocks; ++j) {
    const PhiloxCounter bits = stream_block_bits(seed, stream_id, first_block + static_cast<std::uint64_t>(j));
    for (int lane = 0; lane < 4; ++lane) lanes.values[lane][j] = uniform_from_bits(bits[lane]);
  }
}

// Standard normals in place of the uniforms (the device's stream_normal, element by element).
inline void box_muller_chunk(ChunkLanes& lanes, int blocks) {
  auto& v = lanes.values;
  for (int pair = 0; pair < 2; ++pair) {
    for (int j = 0; j < blocks; ++j) box_muller(v[2 * pair][j], v[2 * pair + 1][j], v[2 * pair][j], v[2 * pair + 1][j]);
  }
}

inline void scale_chunk(ChunkLanes& lanes, int blocks, float mean, float stddev) {
  for (auto& lane : lanes.values) {
    for (int j = 0; j < blocks; ++j) lane[j] = mean + stddev * lane[j];
  }
}

// Chunk `chunk` of a fill: it writes only its own elements, so the result does not depend on
// how chunks are shared among threads or how the range is split. A chunk computes only the
// blocks the range needs (short fills, such as a band of one row, are common in the tiles).
template <class Isa>
inline void fill_chunk_body(const Fill& fill, std::int64_t chunk) {
  const std::uint64_t first_block = fill.offset / 4;
  const std::uint64_t last_block = (fill.offset + fill.count - 1) / 4;
  ChunkLanes lanes;
  const std::uint64_t chunk_block = first_block + static_cast<std::uint64_t>(chunk) * kChunkBlocks;
  const int blocks = static_cast<int>(std::min<std::uint64_t>(kChunkBlocks, last_block - chunk_block + 1));
  philox_chunk<Isa>(chunk_block, blocks, fill.seed, fill.stream_id, lanes);
  if (fill.draw != Draw::uniform) box_muller_chunk(lanes, blocks);
  if (fill.draw == Draw::scaled_normal) scale_chunk(lanes, blocks, fill.mean, fill.stddev);
  // Whole counter blocks are interleaved lane by lane (vectorised); ragged ends go one by one.
  const std::uint64_t base = chunk_block * 4;
  std::uint64_t element = std::max(base, fill.offset);
  const std::uint64_t end = std::min((chunk_block + kChunkBlocks) * 4, fill.offset + fill.count);
  auto copy_one = [&](std::uint64_t e) { fill.out[e - fill.offset] = lanes.values[(e - base) % 4][(e - base) / 4]; };
  for (; element < end && element % 4 != 0; ++element) copy_one(element);
  const std::uint64_t whole_blocks = (end - element) / 4;
  const std::uint64_t first = (element - base) / 4;
  float* target = fill.out + (element - fill.offset);
  // Groups of 16 blocks with constant bounds, which the compiler turns into permutes; the
  // short fills of the tiles (a row's band of outputs) are mostly such groups.
  constexpr std::uint64_t kGroup = 16;
  std::uint64_t j = 0;
  for (; j + kGroup <= whole_blocks; j += kGroup) {
    for (std::uint64_t g = 0; g < kGroup; ++g) {
      for (int lane = 0; lane < 4; ++lane) target[4 * (j + g) + lane] = lanes.values[lane][first + j + g];
    }
  }
  for (; j < whole_blocks; ++j) {
    for (int lane = 0; lane < 4; ++lane) target[4 * j + lane] = lanes.values[lane][first + j];
  }
  for (element += 4 * whole_blocks; element < end; ++element) copy_one(element);
}

TESSERA_TARGET_AVX512 void fill_chunk_avx512(const Fill& fill, std::int64_t chunk) {
  fill_chunk_body<Avx512Isa>(fill, chunk);
}
TESSERA_TARGET_AVX2 void fill_chunk_avx2(const Fill& fill, std::int64_t chunk) { fill_chunk_body<Avx2Isa>(fill, chunk); }
void fill_chunk_generic(const Fill& fill, std::int64_t chunk) { fill_chunk_body<GenericIsa>(fill, chunk); }

// Few elements (a row of one or two outputs) element by element: a chunk's set-up would cost
// more than the draws. The same functions, so the same numbers.
constexpr std::uint64_t kElementwiseFill = 4;

void fill_elementwise(const Fill& fill) {
  for (std::uint64_t k = 0; k < fill.count; ++k) {
    const std::uint64_t element = fill.offset + k;
    fill.out[k] = fill.draw == Draw::uniform ? stream_uniform(fill.seed, fill.stream_id, element)
                                             : stream_normal(fill.seed, fill.stream_id, element);
    if (fill.draw == Draw::scaled_normal) fill.out[k] = fill.mean + fill.stddev * fill.out[k];
  }
}

void run_fill(const Fill& fill) {
  if (fill.count == 0) return;
  if (fill.count <= kElementwiseFill) return fill_elementwise(fill);
  const std::uint64_t first_block = fill.offset / 4;
  const std::uint64_t last_block = (fill.offset + fill.count - 1) / 4;
  const auto chunks = static_cast<std::int64_t>((last_block - first_block) / kChunkBlocks + 1);
  const auto fill_chunk = for_level(fill_chunk_generic, fill_chunk_avx2, fill_chunk_avx512);
  if (chunks < kParallelChunks) {  // no parallel region at all: even an inactive one costs
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) fill_chunk(fill, chunk);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) fill_chunk(fill, chunk);
}

}  // namespace

std::uint64_t mix64(std::uint64_t value) {
  value += 0x9E3779B97F4A7C15ull;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

std::uint64_t hash_name(std::string_view name) {
  std::uint64_t hash = 0xCBF29CE484222325ull;  // FNV-1a offset basis
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 0x100000001B3ull;  // FNV prime
  }
  return mix64(hash);
}

RandomStream RandomStream::derive(std::string_view name) const {
  return RandomStream(seed_, mix64(stream_id_ ^ hash_name(name)));
}

RandomStream RandomStream::derive(std::uint64_t index) const {
  return RandomStream(seed_, mix64(stream_id_ + mix64(index ^ 0xA0761D6478BD642Full)));
}

std::array<float, 4> RandomStream::uniform_block(std::uint64_t block) const {
  const PhiloxCounter bits = stream_block_bits(seed_, stream_id_, block);
  return {uniform_from_bits(bits[0]), uniform_from_bits(bits[1]), uniform_from_bits(bits[2]),
          uniform_from_bits(bits[3])};
}

std::array<float, 4> RandomStream::normal_block(std::uint64_t block) const {
  const std::array<float, 4> u = uniform_block(block);
  std::array<float, 4> z{};
  box_muller(u[0], u[1], z[0], z[1]);
  box_muller(u[2], u[3], z[2], z[3]);
  return z;
}

void RandomStream::fill_uniform(std::span<float> out, std::uint64_t offset) const {
  run_fill({out.data(), out.size(), offset, seed_, stream_id_, Draw::uniform, 0.0f, 1.0f});
}

void RandomStream::fill_normal(std::span<float> out, std::uint64_t offset, float mean, float stddev) const {
  // The common case mean 0, std 1 needs no affine pass.
  const Draw draw = mean == 0.0f && stddev == 1.0f ? Draw::normal : Draw::scaled_normal;
  run_fill({out.data(), out.size(), offset, seed_, stream_id_, draw, mean, stddev});
}

}  // namespace tessera::simulator
