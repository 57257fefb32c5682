#include "tessera/simulator/cpu_features.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tessera::simulator {
namespace {

constexpr int kUnset = -1;
std::atomic<int> chosen_level{kUnset};

void check_supported(SimdLevel level, const std::string& who) {
  if (static_cast<int>(level) > static_cast<int>(supported_simd_level())) {
    throw std::invalid_argument(who + ": this CPU does not run " + std::string(simd_level_name(level)) +
                                " code (the best it runs is " +
                                std::string(simd_level_name(supported_simd_level())) + ")");
  }
}

SimdLevel level_from_environment() {
  const char* value = std::getenv("TESSERA_SIMD");
  if (value == nullptr || *value == '\0') return supported_simd_level();
  SimdLevel level = SimdLevel::generic;
  try {
    level = simd_level_from_name(value);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("TESSERA_SIMD: ") + error.what());
  }
  check_supported(level, "TESSERA_SIMD=" + std::string(value));
  return level;
}

}  // namespace

std::string_view simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::generic:
      return "generic";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512:
      return "avx512";
  }
  return "generic";
}

SimdLevel simd_level_from_name(std::string_view name) {
  for (SimdLevel level : {SimdLevel::generic, SimdLevel::avx2, SimdLevel::avx512}) {
    if (name == simd_level_name(level)) return level;
  }
  throw std::invalid_argument("unknown SIMD level '" + std::string(name) + "' (expected generic, avx2 or avx512)");
}

SimdLevel supported_simd_level() {
  static const SimdLevel level = [] {
#if defined(__x86_64__) || defined(__i386__)
    // The features of x86-64-v3 and -v4 that code compiled for them uses (clang 14 does not
    // know the level names in __builtin_cpu_supports).
    __builtin_cpu_init();
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
                    __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512cd");
    if (v4) return SimdLevel::avx512;
    if (v3) return SimdLevel::avx2;
#endif
    return SimdLevel::generic;
  }();
  return level;
}

SimdLevel simd_level() {
  int level = chosen_level.load(std::memory_order_relaxed);
  if (level == kUnset) {
    level = static_cast<int>(level_from_environment());
    int expected = kUnset;
    chosen_level.compare_exchange_strong(expected, level);  // a concurrent set_simd_level wins
    level = chosen_level.load(std::memory_order_relaxed);
  }
  return static_cast<SimdLevel>(level);
}

void set_simd_level(SimdLevel level) {
  check_supported(level, "set_simd_level");
  chosen_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

}  // namespace tessera::simulator
