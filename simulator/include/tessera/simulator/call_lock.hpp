// The thread contract of tessera's stateful objects (tiles, tile arrays, models, quantizers):
// they may be shared between threads, and calls that read or change their state run one at a
// time. A tile's noise streams count the samples it has seen and its drift and calibration are
// state, so overlapping calls would mix that state; serialised, concurrent callers get what
// some sequential order of their calls gives (with noise off: exactly the sequential results).
// The work inside one call is still spread over OpenMP threads.
#pragma once

#include <mutex>

namespace tessera::simulator {

/// A recursive mutex an object holds to serialise its calls. Copies and moves of the object get
/// a lock of their own (a lock is not state).
class CallLock {
 public:
  CallLock() = default;
  CallLock(const CallLock&) {}
  CallLock(CallLock&&) noexcept {}
  CallLock& operator=(const CallLock&) { return *this; }
  CallLock& operator=(CallLock&&) noexcept { return *this; }
  ~CallLock() = default;

  /// Held until the returned guard goes out of scope; a thread may take it again inside.
  [[nodiscard]] std::unique_lock<std::recursive_mutex> hold() const { return std::unique_lock(mutex_); }

 private:
  mutable std::recursive_mutex mutex_;
};

}  // namespace tessera::simulator
