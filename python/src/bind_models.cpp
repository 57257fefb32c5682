// Models from ONNX files, their conversion to analog or quantized layers, and the rules the
// torch front end shares with the C++ conversion (QuantizationMap priority, name checks).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "numpy_tensor.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

using nn::Model;

py::list module_rows(const Model& model) {
  py::list rows;
  for (const nn::ModuleInfo& m : model.modules()) {
    rows.append(
        py::dict(py::arg("name") = m.name, py::arg("type") = m.type, py::arg("parameter_count") = m.parameter_count));
  }
  return rows;
}

py::array_t<float> forward(Model& model, const py::handle& x) {
  const nn::Value input = to_value(x, "input");
  return compute_without_gil([&] { return model.forward(input); });
}

void bind_model(py::module_& m) {
  py::class_<Model>(m, "Model", "A network loaded from ONNX, possibly with converted layers.")
      .def_static("load_onnx", &nn::load_onnx, py::arg("path"), "Loads an ONNX file (opsets 6-17).")
      .def_property_readonly("modules", &module_rows, "[{'name', 'type', 'parameter_count'}] in graph order.")
      .def_property_readonly("inputs", [](const Model& model) { return model.graph().inputs; })
      .def_property_readonly("plan", &Model::plan, "The ConversionPlan: what each module became and why.")
      .def_property_readonly("outputs", [](const Model& model) { return model.graph().outputs; })
      .def("forward", &forward, py::arg("x"), "Runs one batch through a single-input model; returns its first output.")
      .def("__call__", &forward, py::arg("x"))
      .def(
          "set_backend",
          [](Model& model, const std::string& backend) { model.set_backend(simulator::backend_from_name(backend)); },
          py::arg("backend"), "Analog layers compute on 'cpu' or 'cuda' (RuntimeError when no CUDA device is usable).")
      .def("program", &Model::program, py::call_guard<py::gil_scoped_release>(),
           "Programs every analog layer (programming noise, t = 0).")
      .def("drift", &Model::drift, py::arg("t_inference"), py::call_guard<py::gil_scoped_release>(),
           "Drift and read noise of every analog layer, t_inference seconds after programming.")
      .def("program_analog_weights", &Model::program, py::call_guard<py::gil_scoped_release>(),
           "aihwkit's name for program().")
      .def("drift_analog_weights", &Model::drift, py::arg("t_inference") = 0.0,
           py::call_guard<py::gil_scoped_release>(), "aihwkit's name for drift(t_inference).")
      .def(
          "compute_encodings",
          [](Model& model, const std::function<void(Model&)>& feed) { model.compute_encodings(feed); },
          py::arg("forward_pass"),
          "Calibrates the activation quantizers: calls forward_pass(model), which should run calibration batches.")
      .def("use_integer_kernels", &Model::use_integer_kernels,
           "Runs calibrated 8-bit layers on integer kernels; returns their module names.")
      .def(
          "encodings_json", [](const Model& model) { return nn::encodings_json(model); },
          "The encodings of every quantizer, AIMET-style JSON keyed by tensor name.")
      .def(
          "save_encodings", [](const Model& model, const std::string& path) { nn::save_encodings_json(model, path); },
          py::arg("path"))
      .def(
          "load_encodings", [](Model& model, const std::string& path) { nn::load_encodings_json(model, path); },
          py::arg("path"), "Sets every quantizer's encodings from a JSON written by save_encodings.")
      .def(
          "check_weight_encodings", [](const Model& model) { nn::check_weight_encodings(model); },
          "Raises ModelError naming weights whose values lie outside their encodings.")
      .def(
          "set_module_encodings",
          [](Model& model, const std::string& module, const std::string& role, const std::vector<float>& scale,
             const std::vector<std::int64_t>& zero_point, int call) {
            nn::set_module_encodings(model, module, role, scale, zero_point, call);
          },
          py::arg("module"), py::arg("role"), py::arg("scale"), py::arg("zero_point"), py::arg("call") = 0,
          "Sets the encodings of a converted module's 'input', 'weight' or 'output' quantizer (activations: of "
          "its call `call`, for a module used more than once).")
      .def(
          "module_encodings",
          [](const Model& model, const std::string& module, const std::string& role, int call) {
            auto [scale, zero_point] = nn::module_encodings(model, module, role, call);
            return py::make_tuple(to_numpy(scale), zero_point);
          },
          py::arg("module"), py::arg("role"), py::arg("call") = 0,
          "(scale per channel as a numpy array, [zero point per channel]) of a converted module's quantizer, as "
          "set_module_encodings takes them.")
      .def(
          "module_weights",
          [](const Model& model, const std::string& module) {
            const nn::ModuleInfo* info = model.find_module(module);
            if (info == nullptr) throw nn::ModelError(model.graph().source + ": no module '" + module + "'");
            py::dict weights;
            for (const std::string& name : info->weights) {
              simulator::Tensor tensor = model.graph().initializers.at(name).tensor;
              weights[py::str(name)] = to_numpy(std::move(tensor));
            }
            return weights;
          },
          py::arg("module"),
          "{initializer name: numpy array} of a module's learned parameters, weight first (a Gemm's weight as "
          "the file holds it: [out, in] for torch's Linear).");
}

}  // namespace

void bind_models(py::module_& m) { bind_model(m); }

}  // namespace tessera::python
