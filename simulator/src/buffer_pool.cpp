#include "tessera/simulator/buffer_pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <map>
#include <mutex>
#include <vector>

namespace tessera::simulator::buffer_pool {
namespace {

constexpr std::size_t kPooledBytes = std::size_t{1} << 20;  // smaller buffers: the heap's own reuse suffices
constexpr std::align_val_t kAlignment{64};

std::size_t default_limit() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;  // AddressSanitizer should see every freed buffer (a reused one hides a use after free)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 0;
#endif
#endif
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::size_t quarter = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4
                                                   : std::size_t{1} << 30;
  return std::min(std::size_t{1} << 30, quarter);
}

// The size class of a request: rounded up to a multiple of 1/8 of its power of two.
std::size_t class_bytes(std::size_t bytes) {
  const std::size_t step = std::max<std::size_t>(std::bit_floor(bytes) / 8, 64);
  return (bytes + step - 1) / step * step;
}

struct Pool {
  std::mutex mutex;
  std::map<std::size_t, std::vector<void*>> free_buffers;  // by class size
  std::size_t cached = 0;
  std::size_t limit = default_limit();

  // Frees cached buffers, largest first, until at most `target` bytes are held (mutex held).
  void shrink_to(std::size_t target) {
    while (cached > target && !free_buffers.empty()) {
      auto largest = std::prev(free_buffers.end());
      ::operator delete(largest->second.back(), kAlignment);
      cached -= largest->first;
      largest->second.pop_back();
      if (largest->second.empty()) free_buffers.erase(largest);
    }
  }
};

// Never destroyed: tensors with static storage may give buffers back after main returns.
Pool& pool() {
  static Pool* const instance = new Pool();
  return *instance;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes < kPooledBytes) return ::operator new(std::max<std::size_t>(bytes, 1), kAlignment);
  const std::size_t size = class_bytes(bytes);
  Pool& p = pool();
  {
    const std::lock_guard held(p.mutex);
    const auto found = p.free_buffers.find(size);
    if (found != p.free_buffers.end()) {
      void* buffer = found->second.back();
      found->second.pop_back();
      if (found->second.empty()) p.free_buffers.erase(found);
      p.cached -= size;
      return buffer;
    }
  }
  return ::operator new(size, kAlignment);
}

void release(void* buffer, std::size_t bytes) noexcept {
  if (buffer == nullptr) return;
  if (bytes < kPooledBytes) {
    ::operator delete(buffer, kAlignment);
    return;
  }
  const std::size_t size = class_bytes(bytes);
  Pool& p = pool();
  const std::lock_guard held(p.mutex);
  if (size > p.limit) {
    ::operator delete(buffer, kAlignment);
    return;
  }
  try {
    p.free_buffers[size].push_back(buffer);
  } catch (...) {  // no memory for the list entry: free the buffer instead
    ::operator delete(buffer, kAlignment);
    return;
  }
  p.cached += size;
  p.shrink_to(p.limit);
}

std::size_t cached_bytes() {
  Pool& p = pool();
  const std::lock_guard held(p.mutex);
  return p.cached;
}

void set_limit(std::size_t bytes) {
  Pool& p = pool();
  const std::lock_guard held(p.mutex);
  p.limit = bytes;
  p.shrink_to(bytes);
}

std::size_t limit() {
  Pool& p = pool();
  const std::lock_guard held(p.mutex);
  return p.limit;
}

}  // namespace tessera::simulator::buffer_pool
