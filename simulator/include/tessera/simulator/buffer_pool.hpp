// Memory for tensors. Tensors are large (megabytes) and short-lived (one layer of one batch);
// fresh pages cost a fault each, so the bundled CNN's forward took twice as long when every
// layer's buffers came new from the system (63-66 ms against 29-39 ms at batch 256). Freed
// buffers of 1 MiB and more are therefore kept here for the next tensor of their size class (8
// classes per power of two, at most 12.5 % unused), up to a limit on what is kept (by default
// 1 GiB, at most a quarter of the machine's memory); smaller ones go to the C++ heap. The pool
// is tessera's own: it changes nothing about how the process's other memory is managed.
#pragma once

#include <cstddef>
#include <new>

namespace tessera::simulator {

namespace buffer_pool {

/// At least `bytes` bytes, 64-byte aligned; throws std::bad_alloc.
void* allocate(std::size_t bytes);
/// Gives back what allocate(bytes) returned (the same `bytes`).
void release(void* buffer, std::size_t bytes) noexcept;
/// Bytes held for reuse now.
std::size_t cached_bytes();
/// The most bytes held for reuse (0: none); what is held beyond it is freed.
void set_limit(std::size_t bytes);
std::size_t limit();

}  // namespace buffer_pool

/// The allocator of tensor storage (std::vector<float, PooledAllocator<float>>).
template <class T>
struct PooledAllocator {
  using value_type = T;
  PooledAllocator() = default;
  template <class U>
  PooledAllocator(const PooledAllocator<U>&) {}
  T* allocate(std::size_t count) { return static_cast<T*>(buffer_pool::allocate(count * sizeof(T))); }
  void deallocate(T* pointer, std::size_t count) noexcept { buffer_pool::release(pointer, count * sizeof(T)); }
  template <class U>
  bool operator==(const PooledAllocator<U>&) const {
    return true;
  }
};

}  // namespace tessera::simulator
