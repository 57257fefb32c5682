#!/usr/bin/env bash
# Installs the Python package the way a user does (pip install . into a fresh
# `python3 -m venv --system-site-packages`, offline, no build isolation) and runs the pytest
# suite against that installation, away from the source and build trees. It reuses the CMake
# build in build/ (scripts/build.sh -DTESSERA_PYTHON=ON first). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
venv=build/venv
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
TESSERA_BUILD_DIR="$repo/build" PIP_NO_INDEX=1 "$venv/bin/pip" install --quiet --no-build-isolation --no-deps "$repo"
# From an empty folder, with no PYTHONPATH: only the installed package can be imported.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
env -u PYTHONPATH -u TESSERA_PRESETS_DIR OMP_NUM_THREADS=2 \
  "$repo/$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo/python/tests"
