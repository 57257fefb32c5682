#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, build-asan/) and
# runs the whole test suite there; any report fails the run (UBSan stops the program, ASan
# exits non-zero). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
mkdir -p build-asan
# -O1 without debug info: half the compile time of -O2 -g; reports still name functions.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DTESSERA_SANITIZE=ON \
  -DTESSERA_BENCHMARKS=OFF -DTESSERA_CUDA=OFF -DTESSERA_PYTHON=OFF > build-asan/configure.log
cmake --build build-asan --parallel "${TESSERA_BUILD_JOBS:-2}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
# Leaks are reported too, except in the MPI tests: OpenMPI's plugins keep allocations until
# exit and are unloaded before LeakSanitizer reports them, so they cannot be suppressed by
# name. Those tests still run under ASan's memory-error checks and UBSan.
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
  ctest --test-dir build-asan --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}" -E '^SweepRunnerMpi\.'
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
  ctest --test-dir build-asan --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}" -R '^SweepRunnerMpi\.'
echo "sanitize: the test suite passed under ASan + UBSan with no reports"

# ThreadSanitizer on the concurrency tests (threads sharing tiles, arrays, models, quantizers).
# OpenMP stays at one thread: libgomp is not instrumented, so its own synchronisation would be
# reported; the threads under test are std::threads.
mkdir -p build-tsan
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DTESSERA_THREAD_SANITIZE=ON -DTESSERA_BENCHMARKS=OFF -DTESSERA_CUDA=OFF -DTESSERA_PYTHON=OFF \
  -DTESSERA_MPI=OFF > build-tsan/configure.log
cmake --build build-tsan --parallel "${TESSERA_BUILD_JOBS:-2}" --target tessera_nn_tests
OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
  build-tsan/tests/tessera_nn_tests --gtest_filter='Concurrency.*'
echo "sanitize: the concurrency tests passed under ThreadSanitizer with no reports"
