#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the GoogleTest suites via ctest, the
# Python package's pytest suite (with the notebooks) against a pip-installed package
# (scripts/test_installed.sh), the same suites under ASan + UBSan (scripts/sanitize.sh), then
# the fuzz harnesses for a bounded number of inputs each (scripts/fuzz.sh).
# For a quick loop: ctest --test-dir build (its python_tests runs the build tree's package).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
scripts/build.sh -DTESSERA_PYTHON=ON
ctest --test-dir build --output-on-failure --parallel "${TESSERA_BUILD_JOBS:-2}" --exclude-regex '^python_tests$'
# The cmake --install path of the package is checked from the build tree.
PYTHONPATH=build/python /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests/test_install.py
scripts/test_installed.sh
scripts/sanitize.sh
scripts/fuzz.sh "${TESSERA_FUZZ_RUNS:-20000}"
