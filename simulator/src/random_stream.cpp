#include "tessera/simulator/random_stream.hpp"

#include <algorithm>

namespace tessera::simulator {
namespace {

// Below this many blocks a fill runs on the calling thread: thread start-up would dominate.
constexpr std::uint64_t kParallelBlocks = 1 << 14;

template <class BlockFunction>
void fill_blocks(std::span<float> out, std::uint64_t offset, BlockFunction block_values) {
  const std::uint64_t count = out.size();
  if (count == 0) return;
  const std::uint64_t first_block = offset / 4;
  const std::uint64_t last_block = (offset + count - 1) / 4;
  // Each block writes only its own lanes that fall inside [offset, offset + count), so the
  // result does not depend on how blocks are shared among threads.
  auto write_block = [&](std::uint64_t block) {
    const std::array<float, 4> values = block_values(block);
    const std::uint64_t begin = std::max(block * 4, offset);
    const std::uint64_t end = std::min(block * 4 + 4, offset + count);
    for (std::uint64_t element = begin; element < end; ++element) out[element - offset] = values[element - block * 4];
  };
  const std::int64_t blocks = static_cast<std::int64_t>(last_block - first_block + 1);
#pragma omp parallel for schedule(static) if (static_cast <std::uint64_t>(blocks) >= kParallelBlocks)
  for (std::int64_t i = 0; i < blocks; ++i) write_block(first_block + static_cast<std::uint64_t>(i));
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

PhiloxCounter RandomStream::counter(std::uint64_t block) const {
  return {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
          static_cast<std::uint32_t>(stream_id_), static_cast<std::uint32_t>(stream_id_ >> 32)};
}

std::array<float, 4> RandomStream::uniform_block(std::uint64_t block) const {
  const PhiloxKey key{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32)};
  const PhiloxCounter bits = philox4x32_10(counter(block), key);
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
  fill_blocks(out, offset, [this](std::uint64_t block) { return uniform_block(block); });
}

void RandomStream::fill_normal(std::span<float> out, std::uint64_t offset, float mean, float stddev) const {
  fill_blocks(out, offset, [this, mean, stddev](std::uint64_t block) {
    std::array<float, 4> z = normal_block(block);
    for (float& value : z) value = mean + stddev * value;
    return z;
  });
}

}  // namespace tessera::simulator
