// The tensor buffer pool: large buffers come back for the next request of their size class,
// what it keeps stays under its limit, and concurrent use from many threads is safe.
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "tessera/simulator/buffer_pool.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {
namespace {

/// Restores the pool's limit (and empties it) when a test ends.
struct LimitGuard {
  std::size_t saved = buffer_pool::limit();
  ~LimitGuard() {
    buffer_pool::set_limit(0);
    buffer_pool::set_limit(saved);
  }
};

TEST(BufferPool, AFreedLargeBufferServesTheNextRequestOfItsClass) {
  const LimitGuard guard;
  buffer_pool::set_limit(std::size_t{64} << 20);
  buffer_pool::set_limit(0);  // start empty
  buffer_pool::set_limit(std::size_t{64} << 20);
  void* first = buffer_pool::allocate(3'000'000);
  buffer_pool::release(first, 3'000'000);
  EXPECT_GE(buffer_pool::cached_bytes(), std::size_t{3'000'000});
  EXPECT_LE(buffer_pool::cached_bytes(), std::size_t{3'000'000} * 9 / 8);  // at most 12.5 % rounding
  void* second = buffer_pool::allocate(2'990'000);  // the same class
  EXPECT_EQ(second, first);
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
  buffer_pool::release(second, 2'990'000);
}

TEST(BufferPool, KeepsNoMoreThanItsLimit) {
  const LimitGuard guard;
  buffer_pool::set_limit(0);
  buffer_pool::set_limit(std::size_t{8} << 20);
  std::vector<void*> buffers;
  for (int k = 0; k < 6; ++k) buffers.push_back(buffer_pool::allocate(std::size_t{3} << 20));
  for (void* buffer : buffers) buffer_pool::release(buffer, std::size_t{3} << 20);
  EXPECT_LE(buffer_pool::cached_bytes(), std::size_t{8} << 20);
  buffer_pool::set_limit(0);
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
}

TEST(BufferPool, TensorsAreAlignedForVectorLoads) {
  for (std::int64_t elements : {1, 1000, 1 << 20}) {
    const Tensor tensor({elements});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tensor.data()) % 64, 0u) << elements;
  }
}

TEST(BufferPool, ThreadsAllocatingAndFreeingTogetherGetDistinctBuffers) {
  const LimitGuard guard;
  buffer_pool::set_limit(std::size_t{32} << 20);
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &failures] {
      for (int k = 0; k < 200; ++k) {
        const std::size_t bytes = (std::size_t{1} << 20) + static_cast<std::size_t>((t * 7 + k) % 5) * 400'000;
        auto* buffer = static_cast<std::uint32_t*>(buffer_pool::allocate(bytes));
        const std::size_t words = bytes / sizeof(std::uint32_t);
        for (std::size_t i = 0; i < words; i += 4096) buffer[i] = static_cast<std::uint32_t>(t);
        for (std::size_t i = 0; i < words; i += 4096) failures[static_cast<std::size_t>(t)] += buffer[i] != static_cast<std::uint32_t>(t);
        buffer_pool::release(buffer, bytes);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int failure : failures) EXPECT_EQ(failure, 0);
  EXPECT_LE(buffer_pool::cached_bytes(), std::size_t{32} << 20);
}

}  // namespace
}  // namespace tessera::simulator
