#!/usr/bin/env bash
# The main job. Until the sweep runner exists (issue 5) this is the most complete program:
# the range-estimator comparison, which calibrates quantizers with every estimator and writes
# results/range_estimators.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
scripts/build.sh
build/examples/range_estimator_comparison --output results "$@"
