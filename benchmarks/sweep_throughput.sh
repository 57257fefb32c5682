#!/usr/bin/env bash
# Sweep throughput: the same sweep (benchmarks/sweep_throughput.yaml, 24 runs) as
#   1 process  x 2 OpenMP threads   (tessera sweep -j 2)
#   2 MPI ranks x 1 thread          (mpirun -n 2 tessera sweep -j 1)
# each from an empty output folder, in this one invocation; prints runs per second and the
# ratio. Usage: benchmarks/sweep_throughput.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${1:-build}/bin/tessera"
sweep=benchmarks/sweep_throughput.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Seconds taken by the command after the first argument (an output folder it must fill).
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' 
}

runs=24
threads=$(seconds "$cli" sweep "$sweep" -q -j 2 -o "$work/threads")
ranks=$(seconds mpirun -n 2 --oversubscribe "$cli" sweep "$sweep" -q -j 1 -o "$work/ranks")
if ! cmp -s <(cut -d, -f1-6 "$work/threads/results.csv") <(cut -d, -f1-6 "$work/ranks/results.csv"); then
  echo "sweep_throughput: the two ways gave different results" >&2
  exit 1
fi
awk -v runs="$runs" -v t="$threads" -v r="$ranks" 'BEGIN {
  printf "%-28s %8s %10s\n", "configuration", "seconds", "runs/s"
  printf "%-28s %8.2f %10.2f\n", "1 process x 2 threads", t, runs / t
  printf "%-28s %8.2f %10.2f\n", "2 MPI ranks x 1 thread", r, runs / r
  printf "throughput of 2 ranks x 1 thread / 1 x 2 threads: %.2fx (same results)\n", t / r
}' 
