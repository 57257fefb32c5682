// Which vector instructions tessera's CPU kernels use, chosen at run time: the build itself
// targets the baseline x86-64 (unless TESSERA_NATIVE), and each hot kernel is compiled for
// AVX-512, AVX2 and the baseline, the best the CPU supports picked at the call (as faiss's
// loader picks one of its builds). TESSERA_SIMD=generic|avx2|avx512 in the environment, or
// set_simd_level, lowers the choice, e.g. to test a path or to compare against it.
// What each path promises (tests/simulator/simd_dispatch_test.cpp): random numbers, quantizers
// and every element step are bit-identical on all paths; products (tiles and float layers) sum
// each output in input order with fused multiply-adds on AVX-512 and AVX2, which are therefore
// bit-identical to each other, and with separate multiplies and adds on the generic path
// (within float rounding of the others).
#pragma once

#include <string_view>

namespace tessera::simulator {

enum class SimdLevel { generic, avx2, avx512 };

/// "generic", "avx2" or "avx512".
std::string_view simd_level_name(SimdLevel level);
/// The level of a name; throws std::invalid_argument naming the choices otherwise.
SimdLevel simd_level_from_name(std::string_view name);

/// The best level this CPU runs: avx512 needs x86-64-v4 (AVX-512 F, BW, DQ, VL), avx2 needs
/// x86-64-v3 (AVX2, FMA, BMI).
SimdLevel supported_simd_level();

/// The level kernels use now: supported_simd_level(), or lower as TESSERA_SIMD asks (read at
/// the first call; a bad value, or one above what the CPU runs, throws std::invalid_argument
/// naming the variable).
SimdLevel simd_level();

/// Makes kernels use `level` from now on (tests, comparisons); throws std::invalid_argument
/// when the CPU does not run it.
void set_simd_level(SimdLevel level);

}  // namespace tessera::simulator
