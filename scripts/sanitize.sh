#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, build-asan/) and
# runs the whole test suite there; any report fails the run (UBSan stops the program, ASan
# exits non-zero). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
mkdir -p build-asan
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON \
  -DTESSERA_BENCHMARKS=OFF -DTESSERA_CUDA=OFF > build-asan/configure.log
cmake --build build-asan --parallel "${TESSERA_BUILD_JOBS:-2}"
# Leaks are reported too; OpenMPI's own allocations at exit are not ours.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan_suppressions.txt:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --test-dir build-asan --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}"
echo "sanitize: the test suite passed under ASan + UBSan with no reports"
