#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the bundled sweep
# (examples/fashion_mnist/sweep.yaml): the Fashion-MNIST CNN on PCM tiles over drift time x
# ADC resolution x 3 seeds, next to int8 and int4 digital baselines. Results land in
# results/fashion_mnist/ (results.csv, aggregate.csv, plot.png). Extra arguments go to
# `tessera sweep` (e.g. --threads 4, -o other/folder). Rerunning skips finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh build
scripts/build.sh
build/bin/tessera sweep examples/fashion_mnist/sweep.yaml "$@"
