// NumPy arrays <-> tessera tensors. Arrays coming in are copied once into a Tensor (tensors own
// their buffer); tensors going out are handed to NumPy without a copy (the array owns them).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string_view>

#include "tessera/nn/value.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::python {

/// A float32 tensor of the array's shape. float32 and float64 arrays (any strides) are accepted;
/// anything else raises TypeError naming `what` and the dtype found.
simulator::Tensor to_tensor(const pybind11::handle& array, std::string_view what);

/// A model input: float arrays as floats, integer arrays as int64 indices (|value| <= 2^24, held
/// exactly in the float buffer), bool arrays as bools; TypeError for other dtypes.
nn::Value to_value(const pybind11::handle& array, std::string_view what);

/// Like to_tensor, and the array must have `rank` dimensions (ValueError otherwise).
simulator::Tensor to_tensor(const pybind11::handle& array, std::string_view what, int rank);

/// The tensor as a float32 array that owns its buffer (moved, not copied).
pybind11::array_t<float> to_numpy(simulator::Tensor&& tensor);

/// Runs `compute` (returning a Tensor) with the GIL released and hands its result to NumPy.
template <class Compute>
pybind11::array_t<float> compute_without_gil(Compute&& compute) {
  simulator::Tensor result;
  {
    pybind11::gil_scoped_release release;
    result = compute();
  }
  return to_numpy(std::move(result));
}

/// A float vector as a 1-d float32 array (copied).
pybind11::array_t<float> to_numpy(const std::vector<float>& values);

}  // namespace tessera::python
