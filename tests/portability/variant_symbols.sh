#!/usr/bin/env bash
# The per-level copies of Eigen (simulator/src/cpu/eigen_gemm_<level>.cpp) define no symbol the
# linker could merge with another translation unit's: every weak or unique symbol they hold names
# their own renamed namespace. (A shared inline function compiled for AVX-512 there could
# otherwise be picked for the whole program and crash a CPU without it.)
# Usage: variant_symbols.sh OBJECT...   (the eigen_gemm_* objects among them are checked)
set -uo pipefail
checked=0 failures=0
IFS=';' read -r -a objects <<<"$*"  # ctest passes CMake's object list as one argument
for object in "${objects[@]}"; do
  object=${object# }
  [[ $object == *eigen_gemm_* ]] || continue
  level=$(basename "$object" | sed -E 's/eigen_gemm_([a-z0-9]+)\..*/\1/')
  shared=$(nm --defined-only "$object" | awk '$2 ~ /^[WVui]$/ {print $3}' | c++filt |
           grep -v -e "tessera_eigen_$level::" -e '^DW\.ref\.__gxx_personality_v0$')
  if [[ -n $shared ]]; then
    echo "FAIL: $object shares symbols outside tessera_eigen_$level:"; echo "$shared" | head -20
    failures=$((failures + 1))
  fi
  checked=$((checked + 1))
done
echo "checked $checked objects"
[[ $checked -eq 3 && $failures -eq 0 ]]
