#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites via ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}"
