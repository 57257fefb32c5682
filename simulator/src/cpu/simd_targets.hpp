// How a CPU kernel is compiled for each SIMD level (cpu_features.hpp): its body is an inline
// template, instantiated in three small wrappers that carry the level's target. flatten inlines
// the body (and what it calls) into the wrapper, so its loops vectorise for that level; the
// rest of the library is compiled for the baseline and never runs an instruction the CPU lacks.
//   template <class Isa> inline void scale_body(float* x, std::int64_t n) { ... }
//   TESSERA_TARGET_AVX512 void scale_avx512(float* x, std::int64_t n) { scale_body<Avx512>(x, n); }
//   ...
//   for_level(scale_generic, scale_avx2, scale_avx512)(x, n);
#pragma once

#include "tessera/simulator/cpu_features.hpp"

#if defined(TESSERA_NATIVE_BUILD)
// -march=native: everything already targets the build CPU (a lower target would clash with it).
#define TESSERA_ISA_AVX512
#define TESSERA_ISA_AVX2
#else
#define TESSERA_ISA_AVX512 __attribute__((target("arch=x86-64-v4")))
#define TESSERA_ISA_AVX2 __attribute__((target("arch=x86-64-v3")))
#endif
/// A kernel wrapper for one level: its target, and its body inlined into it.
#define TESSERA_TARGET_AVX512 TESSERA_ISA_AVX512 __attribute__((flatten))
#define TESSERA_TARGET_AVX2 TESSERA_ISA_AVX2 __attribute__((flatten))

namespace tessera::simulator {

/// Level tags for kernel templates.
struct GenericIsa {
  static constexpr SimdLevel kLevel = SimdLevel::generic;
};
struct Avx2Isa {
  static constexpr SimdLevel kLevel = SimdLevel::avx2;
};
struct Avx512Isa {
  static constexpr SimdLevel kLevel = SimdLevel::avx512;
};

/// The variant of a kernel for the level in use.
template <class Function>
Function for_level(Function generic, Function avx2, Function avx512) {
  switch (simd_level()) {
    case SimdLevel::avx512:
      return avx512;
    case SimdLevel::avx2:
      return avx2;
    case SimdLevel::generic:
      break;
  }
  return generic;
}

}  // namespace tessera::simulator
