#include "numpy_tensor.hpp"

#include <cmath>
#include <memory>
#include <string>

namespace py = pybind11;

namespace tessera::python {

simulator::Tensor to_tensor(const py::handle& object, std::string_view what) {
  if (!py::isinstance<py::array>(object)) {
    throw py::type_error(std::string(what) + ": expected a numpy array of float32, found " +
                         std::string(py::str(py::type::of(object).attr("__name__"))) +
                         " (torch tensors: pass tensor.detach().cpu().numpy())");
  }
  const auto array = py::reinterpret_borrow<py::array>(object);
  const char kind = array.dtype().kind();
  if (kind != 'f' || (array.itemsize() != 4 && array.itemsize() != 8)) {
    throw py::type_error(std::string(what) + ": expected a float32 (or float64) array, found dtype " +
                         std::string(py::str(array.dtype())));
  }
  // forcecast converts float64 and makes the buffer C-contiguous; float32 C arrays pass as is.
  const auto contiguous = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  simulator::Shape shape(contiguous.shape(), contiguous.shape() + contiguous.ndim());
  simulator::Tensor tensor(shape);
  std::copy(contiguous.data(), contiguous.data() + contiguous.size(), tensor.data());
  return tensor;
}

nn::Value to_value(const py::handle& object, std::string_view what) {
  if (!py::isinstance<py::array>(object)) return nn::Value::floats(to_tensor(object, what));
  const auto array = py::reinterpret_borrow<py::array>(object);
  const char kind = array.dtype().kind();
  if (kind == 'f') return nn::Value::floats(to_tensor(object, what));
  if (kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(std::string(what) + ": expected a float, integer or bool array, found dtype " +
                         std::string(py::str(array.dtype())));
  }
  const auto values = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(array);
  simulator::Shape shape(values.shape(), values.shape() + values.ndim());
  simulator::Tensor tensor(shape);
  constexpr double kExact = 16777216.0;  // 2^24: integers a float holds exactly
  for (py::ssize_t k = 0; k < values.size(); ++k) {
    const double v = values.data()[k];
    if (std::abs(v) > kExact) {
      throw py::value_error(std::string(what) + ": index " + std::to_string(static_cast<long long>(v)) +
                            " at flat position " + std::to_string(k) + " is beyond 2^24 (the largest held exactly)");
    }
    tensor[k] = static_cast<float>(v);
  }
  return nn::Value{kind == 'b' ? nn::DataType::kBool : nn::DataType::kInt64, std::move(tensor)};
}

simulator::Tensor to_tensor(const py::handle& object, std::string_view what, int rank) {
  simulator::Tensor tensor = to_tensor(object, what);
  if (tensor.rank() != rank) {
    throw py::value_error(std::string(what) + ": expected a " + std::to_string(rank) + "-d array, found shape " +
                          simulator::shape_to_string(tensor.shape()));
  }
  return tensor;
}

py::array_t<float> to_numpy(simulator::Tensor&& tensor) {
  auto owner = std::make_unique<simulator::Tensor>(std::move(tensor));
  std::vector<py::ssize_t> shape(owner->shape().begin(), owner->shape().end());
  float* data = owner->data();
  py::capsule free_when_done(owner.get(), [](void* p) { delete static_cast<simulator::Tensor*>(p); });
  owner.release();
  return py::array_t<float>(shape, data, free_when_done);
}

py::array_t<float> to_numpy(const std::vector<float>& values) {
  py::array_t<float> array(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), array.mutable_data());
  return array;
}

}  // namespace tessera::python
