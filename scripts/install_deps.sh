#!/usr/bin/env bash
# Installs the Debian packages tessera needs, skipping those already present.
# Usage: scripts/install_deps.sh [build|fuzz|reference|all]   (default: build)
#   build      compilers and libraries to build and test tessera, including the Python
#              package (pybind11, torch, ONNX, pytest, nbclient for the notebooks, and
#              venv, pip, setuptools and wheel for pip install ., pandas to read results)
#   fuzz       also clang with libFuzzer and its OpenMP runtime, for scripts/fuzz.sh
#   reference  also console-setup-linux, the font scripts/make_plot_font.py converts (torch,
#              for scripts/make_torch_reference.py and scripts/train_fashion_mnist.py, is
#              already in the build set)
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libeigen3-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-dev libprotobuf-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  libonnx-testdata dataset-fashion-mnist
  libopenmpi-dev openmpi-bin
  python3-dev pybind11-dev python3-numpy python3-torch python3-onnx libopenblas0-openmp
  python3-pytest python3-nbclient python3-nbformat python3-ipykernel python3-matplotlib
  python3-venv python3-pip python3-setuptools python3-wheel python3-pandas
  qemu-user  # runs the build on emulated CPUs without AVX-512 / AVX (tests/portability)
)
fuzz_packages=(clang libfuzzer-14-dev libomp-14-dev)
reference_packages=(console-setup-linux)

case "${1:-build}" in
  build) wanted=("${build_packages[@]}") ;;
  fuzz) wanted=("${build_packages[@]}" "${fuzz_packages[@]}") ;;
  reference) wanted=("${build_packages[@]}" "${reference_packages[@]}") ;;
  all) wanted=("${build_packages[@]}" "${fuzz_packages[@]}" "${reference_packages[@]}") ;;
  *) echo "usage: $0 [build|fuzz|reference|all]" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#wanted[@]} packages already installed"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
