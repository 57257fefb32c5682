#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang with ASan + UBSan, build-fuzz/) and runs
# each for a bounded number of inputs, starting from its committed corpus in
# tests/fuzz/corpus/<name>/. A crash, sanitizer report, leak or uncaught exception fails the
# run and leaves the input in build-fuzz/artifacts/; add it to the corpus and a test once
# fixed. Usage: scripts/fuzz.sh [runs per harness]   (default 20000). Called by scripts/test.sh.
# The fuzzer's seed is fixed (FUZZ_SEED, default 1) so that CI runs the same inputs every time;
# exploring runs pass another seed, e.g. FUZZ_SEED=$RANDOM scripts/fuzz.sh 1000000.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20000}"
seed="${FUZZ_SEED:-1}"
scripts/install_deps.sh fuzz
mkdir -p build-fuzz
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++ \
  -DTESSERA_FUZZ=ON -DTESSERA_TESTS=OFF -DTESSERA_BENCHMARKS=OFF -DTESSERA_CUDA=OFF -DTESSERA_MPI=OFF -DTESSERA_PYTHON=OFF \
  -DTESSERA_NATIVE=OFF > build-fuzz/configure.log
harnesses=(yaml_config sweep_file onnx onnx_run idx npy)
cmake --build build-fuzz --parallel "${TESSERA_BUILD_JOBS:-2}" --target "${harnesses[@]/#/fuzz_}"
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
for name in "${harnesses[@]}"; do
  # The committed seeds stay as they are; what the fuzzer finds goes to a scratch corpus.
  work="build-fuzz/corpus/$name"
  mkdir -p "$work"
  start=$(date +%s)
  build-fuzz/tests/fuzz/fuzz_"$name" -runs="$runs" -seed="$seed" -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix=build-fuzz/artifacts/"$name"- "$work" "tests/fuzz/corpus/$name" \
    > "build-fuzz/$name.log" 2>&1 || { tail -n 60 "build-fuzz/$name.log"; echo "fuzz: $name failed" >&2; exit 1; }
  echo "fuzz: $name: $runs inputs in $(( $(date +%s) - start )) s, $(grep -o 'cov: [0-9]*' "build-fuzz/$name.log" | tail -1), no findings"
done
