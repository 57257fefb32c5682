#!/usr/bin/env bash
# Configures and builds tessera (Release) into build/, using ccache when present.
# Extra arguments are passed to cmake's configure step, e.g. -DTESSERA_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --parallel "${TESSERA_BUILD_JOBS:-2}"
