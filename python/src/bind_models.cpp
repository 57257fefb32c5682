// Models from ONNX files, their conversion to analog or quantized layers, and the rules the
// torch front end shares with the C++ conversion (QuantizationMap priority, name checks).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "numpy_tensor.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

using nn::Model;

py::list report_rows(const nn::ConversionReport& report) {
  py::list rows;
  for (const nn::ConversionEntry& e : report.entries) {
    rows.append(py::dict(py::arg("module") = e.module, py::arg("type") = e.type, py::arg("became") = e.became,
                         py::arg("rule") = e.rule));
  }
  return rows;
}

py::list module_rows(const Model& model) {
  py::list rows;
  for (const nn::ModuleInfo& m : model.modules()) {
    rows.append(
        py::dict(py::arg("name") = m.name, py::arg("type") = m.type, py::arg("parameter_count") = m.parameter_count));
  }
  return rows;
}

py::array_t<float> forward(Model& model, const py::handle& x) {
  const simulator::Tensor input = to_tensor(x, "input");
  return compute_without_gil([&] { return model.forward(input); });
}

void bind_model(py::module_& m) {
  py::class_<Model>(m, "Model", "A network loaded from ONNX, possibly with converted layers.")
      .def_static("load_onnx", &nn::load_onnx, py::arg("path"), "Loads an ONNX file (opsets 7-21).")
      .def_property_readonly("modules", &module_rows, "[{'name', 'type', 'parameter_count'}] in graph order.")
      .def_property_readonly("inputs", [](const Model& model) { return model.graph().inputs; })
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
          "set_module_encodings",
          [](Model& model, const std::string& module, const std::string& role, const std::vector<float>& scale,
             const std::vector<std::int64_t>& zero_point) {
            nn::set_module_encodings(model, module, role, scale, zero_point);
          },
          py::arg("module"), py::arg("role"), py::arg("scale"), py::arg("zero_point"),
          "Sets the encodings of a converted module's 'input', 'weight' or 'output' quantizer.");
}

void bind_conversion(py::module_& m) {
  m.def(
      "convert_to_analog",
      [](const Model& model, const parameters::InferenceRPUConfig& rpu_config, const std::vector<std::string>& exclude,
         const std::map<std::string, parameters::InferenceRPUConfig>& instance_rpu_configs,
         const std::optional<std::set<std::string>>& module_types, std::uint64_t seed) {
        nn::AnalogConversion conversion{rpu_config, instance_rpu_configs, exclude};
        if (module_types) conversion.module_types = *module_types;
        conversion.seed = seed;
        nn::ConversionReport report;
        Model converted = nn::convert_to_analog(model, conversion, &report);
        return py::make_tuple(std::move(converted), report_rows(report));
      },
      py::arg("model"), py::arg("rpu_config") = parameters::InferenceRPUConfig{},
      py::arg("exclude") = std::vector<std::string>{},
      py::arg("instance_rpu_configs") = std::map<std::string, parameters::InferenceRPUConfig>{},
      py::arg("module_types") = py::none(), py::arg("seed") = 0,
      "A copy with Linear/Conv layers on analog tiles; returns (model, report rows).");
  m.def(
      "convert_to_quantized",
      [](const Model& model, const parameters::QuantizationMap& map) {
        nn::ConversionReport report;
        Model converted = nn::convert_to_quantized(model, map, &report);
        return py::make_tuple(std::move(converted), report_rows(report));
      },
      py::arg("model"), py::arg("quantization_map"),
      "A copy with fake-quantized layers by the map's rules; returns (model, report rows).");
  m.def(
      "resolve_quantization",
      [](const parameters::QuantizationMap& map, const std::string& module, const std::string& type) {
        const nn::QuantizationRule rule = nn::resolve_quantization(map, module, type);
        py::dict result(py::arg("excluded") = rule.excluded, py::arg("rule") = rule.rule);
        result["quantized_module"] = rule.module_config ? py::cast(rule.module_config->quantized_module) : py::none();
        result["qconfig"] = rule.module_config ? py::cast(rule.module_config->module_qconfig) : py::none();
        result["input_quantizer"] = rule.input_quantizer ? py::cast(*rule.input_quantizer) : py::none();
        return result;
      },
      py::arg("quantization_map"), py::arg("module"), py::arg("type"),
      "The rule that applies to one module (exclusion > instance > type): a dict with excluded, rule, "
      "quantized_module, qconfig (QuantizationConfig or None), input_quantizer (ActivationQuantConfig or None).");
  m.def("in_subtree", &nn::in_subtree, py::arg("name"), py::arg("root"),
        "Whether module `name` is `root` or lies below it ('features.0' is in 'features', 'features0' is not).");
  m.def("check_module_names", &nn::check_module_names, py::arg("key"), py::arg("names"), py::arg("module_names"),
        py::arg("containers_allowed"), py::arg("source"),
        "Raises ModelError when a name under `key` is not a module (or, if allowed, the root of some).");
}

}  // namespace

void bind_models(py::module_& m) {
  bind_model(m);
  bind_conversion(m);
}

}  // namespace tessera::python
