#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the GoogleTest suites and the Python
# package's pytest suite (with the notebooks) via ctest, the
# same suites under ASan + UBSan (scripts/sanitize.sh), then the fuzz harnesses for a bounded
# number of inputs each (scripts/fuzz.sh). For a quick loop: ctest --test-dir build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
scripts/build.sh -DTESSERA_PYTHON=ON
ctest --test-dir build --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}"
scripts/sanitize.sh
scripts/fuzz.sh "${TESSERA_FUZZ_RUNS:-20000}"
