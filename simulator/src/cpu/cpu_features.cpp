#include "tessera/simulator/cpu_features.hpp"

#include <atomic>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
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

#if defined(__x86_64__) || defined(__i386__)
struct CpuFeatures {
  bool x86_64_v3 = false;
  bool x86_64_v4 = false;
};

bool has_bit(unsigned value, int bit) { return ((value >> bit) & 1U) != 0; }

// The features that code compiled for -march=x86-64-v3 / -v4 may use, read from CPUID, and
// whether the OS saves the YMM / ZMM registers (XCR0). cpuid is used directly because the
// feature names __builtin_cpu_supports accepts differ between gcc 12 and clang 14.
CpuFeatures read_cpu_features() {
  CpuFeatures result;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return result;
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  const bool fma = has_bit(ecx, 12), movbe = has_bit(ecx, 22), osxsave = has_bit(ecx, 27),
             avx = has_bit(ecx, 28), f16c = has_bit(ecx, 29);
  if (!osxsave || !avx) return result;
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  const bool os_saves_ymm = (xcr0_low & 0x6U) == 0x6U;
  const bool os_saves_zmm = (xcr0_low & 0xE6U) == 0xE6U;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool bmi1 = has_bit(ebx, 3), avx2 = has_bit(ebx, 5), bmi2 = has_bit(ebx, 8), avx512f = has_bit(ebx, 16),
             avx512dq = has_bit(ebx, 17), avx512cd = has_bit(ebx, 28), avx512bw = has_bit(ebx, 30),
             avx512vl = has_bit(ebx, 31);
  bool lzcnt = false;
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000U, nullptr)) >= 0x80000001U) {
    __cpuid(0x80000001U, eax, ebx, ecx, edx);
    lzcnt = has_bit(ecx, 5);
  }
  result.x86_64_v3 = os_saves_ymm && avx2 && fma && bmi1 && bmi2 && f16c && movbe && lzcnt;
  result.x86_64_v4 = result.x86_64_v3 && os_saves_zmm && avx512f && avx512bw && avx512dq && avx512vl && avx512cd;
  return result;
}
#endif

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
    const CpuFeatures cpu = read_cpu_features();
    if (cpu.x86_64_v4) return SimdLevel::avx512;
    if (cpu.x86_64_v3) return SimdLevel::avx2;
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
