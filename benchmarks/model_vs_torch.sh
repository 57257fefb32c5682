#!/usr/bin/env bash
# Whole-model float inference, tessera against torch 1.13 (OpenBLAS) in one run: the bundled
# Fashion-MNIST CNN, the same weights, a batch of 256, 2 threads each. Prints both times and
# the ratio (goal: tessera within 1.5x of torch). Needs scripts/install_deps.sh reference.
# Usage: benchmarks/model_vs_torch.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
torch_ms=$(OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/model_vs_torch.py 2)
tessera_ms=$(OMP_NUM_THREADS=2 "$build"/benchmarks/model_forward_benchmark --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=csv 2>/dev/null |
  awk -F, '/_min"?,|_median"?,/ { gsub(/"/, "", $1); if ($1 ~ /median/) print $3 }')
awk -v t="$torch_ms" -v s="$tessera_ms" 'BEGIN {
  printf "torch 1.13:  %8.3f ms per batch of 256\n", t
  printf "tessera:     %8.3f ms per batch of 256 (median of 5)\n", s
  printf "tessera / torch: %.2fx (goal <= 1.5x)\n", s / t
}'
