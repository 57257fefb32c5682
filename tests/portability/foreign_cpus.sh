#!/usr/bin/env bash
# tessera built for the baseline x86-64 runs on CPUs without AVX-512: under qemu-user's emulated
# CPUs ("max": AVX2 and FMA, no AVX-512; "Nehalem": no AVX at all) the kernels pick the level the
# CPU has, the dispatch tests pass there, and a noisy tile forward from Python gives the same bits
# as the host forced to that level with TESSERA_SIMD.
# Usage: foreign_cpus.sh TESSERA_CLI SIMULATOR_TESTS PYTHONPATH   (exit 77: skipped, no qemu)
set -uo pipefail
cli=$1 simulator_tests=$2 python_path=$3
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v qemu-x86_64 >/dev/null; then
  echo "qemu-x86_64 not found (Debian package qemu-user): skipped"
  exit 77
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
for pair in max:avx2 Nehalem:generic; do
  cpu=${pair%%:*} level=${pair#*:}
  emulated=(qemu-x86_64 -cpu "$cpu")
  version=$("${emulated[@]}" "$cli" --version 2>/dev/null)
  grep -q "CPU kernels: $level (this CPU runs up to $level" <<<"$version" || fail "$cpu: expected $level kernels, got: $version"
  if ! "${emulated[@]}" "$simulator_tests" --gtest_filter='SimdDispatch.*:RandomStream*:PackedProduct*' \
      --gtest_brief=1 >/tmp/tessera_foreign_$cpu.log 2>&1; then
    fail "$cpu: simulator tests (log /tmp/tessera_foreign_$cpu.log)"; tail -20 "/tmp/tessera_foreign_$cpu.log"
  fi
  if [[ -n $python_path ]] && ! "${emulated[@]}" /usr/bin/python3 -c "import numpy" >/dev/null 2>&1; then
    # Debian's numpy itself stops with an illegal instruction under some emulated CPUs (seen
    # with Nehalem): that says nothing about tessera, whose C++ checks above still ran.
    echo "$cpu: numpy does not run under this emulated CPU, so the Python forward is not compared there"
  elif [[ -n $python_path ]]; then
    host=$(PYTHONPATH=$python_path TESSERA_SIMD=$level /usr/bin/python3 "$here/tile_fingerprint.py" 2>&1)
    guest=$(PYTHONPATH=$python_path "${emulated[@]}" /usr/bin/python3 "$here/tile_fingerprint.py" 2>&1 | grep -v '^qemu')
    [[ $host == "$guest" && $host == tile* ]] || fail "$cpu: Python tile forward differs: host '$host', emulated '$guest'"
  fi
  echo "$cpu: $level kernels checked"
done
exit $((failures > 0))
