// Configs: InferenceRPUConfig and QuantizationMap (and their parts) with YAML load/save, dotted
// get/set as Python values, equality and pickling. Attribute access (rpu.forward.out_res = ...)
// is added in Python (tessera/_config.py) on top of get/set, so every field, including those of
// variant alternatives such as noise_model, is reachable without a binding per field.
#include <pybind11/operators.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/field_docs.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"
#include "yaml_objects.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

template <class Config>
void bind_config(py::module_& m, const char* name, const char* doc) {
  using parameters::get_parameter;
  using parameters::set_parameter;
  py::class_<Config>(m, name, doc)
      .def(py::init<>())
      .def_static(
          "from_yaml", [](const std::string& text) { return parameters::load_config_string<Config>(text, "<yaml>"); },
          py::arg("text"), "Reads a config from YAML text (errors name line, column and key path).")
      .def_static(
          "load", [](const std::filesystem::path& path) { return parameters::load_config_file<Config>(path); },
          py::arg("path"), "Reads a config from a YAML file.")
      .def("to_yaml", &parameters::save_config<Config>, "Every field, as YAML text.")
      .def(
          "save", [](const Config& c, const std::filesystem::path& path) { parameters::save_config_file(c, path); },
          py::arg("path"), "Writes every field to a YAML file.")
      .def(
          "get", [](const Config& c, const std::string& path) { return yaml_to_python(get_parameter(c, path)); },
          py::arg("path"), "The value at a dotted path ('forward.out_res') as Python objects.")
      .def(
          "set",
          [](Config& c, const std::string& path, const py::handle& value) {
            const std::string source = "set('" + path + "')";
            std::string text;
            try {  // name the field in TypeError/ValueError about the value
              text = python_to_yaml(value);
            } catch (const py::type_error& error) {
              throw py::type_error(source + ": " + error.what());
            } catch (const py::value_error& error) {
              throw py::value_error(source + ": " + error.what());
            }
            set_parameter(c, path, text, source);
          },
          py::arg("path"), py::arg("value"), "Sets the value at a dotted path; checked like a YAML file.")
      .def(
          "field_docs",
          [](const Config& c) {
            py::dict docs;
            for (const parameters::FieldDoc& entry : parameters::field_docs(c)) docs[py::str(entry.path)] = entry.doc;
            return docs;
          },
          "What each field means (dotted path -> text, the unit first where there is one), for the "
          "current kinds of its variant sections; help() on a config or a section shows these.")
      .def("to_dict", [](const Config& c) { return yaml_to_python(parameters::save_config(c)); })
      .def("copy", [](const Config& c) { return Config(c); })
      .def("__copy__", [](const Config& c) { return Config(c); })
      .def("__deepcopy__", [](const Config& c, const py::dict&) { return Config(c); })
      .def(py::self == py::self)  // NOLINT(misc-redundant-expression)
      .def(
          py::pickle([](const Config& c) { return parameters::save_config(c); },
                     [](const std::string& text) { return parameters::load_config_string<Config>(text, "<pickle>"); }));
}

}  // namespace

void bind_parameters(py::module_& m) {
  bind_config<parameters::InferenceRPUConfig>(
      m, "InferenceRPUConfig", "Everything about one analog tile, with aihwkit's field names and defaults.");
  bind_config<parameters::QuantizationMap>(m, "QuantizationMap",
                                           "Which modules are quantized how: exclusion > instance > type.");
  bind_config<parameters::QuantizedModuleConfig>(m, "QuantizedModuleConfig",
                                                 "Which quantized module replaces a float one, with which config.");
  bind_config<parameters::QuantizationConfig>(m, "QuantizationConfig",
                                              "Weight and output-activation quantizers of one module.");
  bind_config<parameters::ActivationQuantConfig>(m, "ActivationQuantConfig", "An activation quantizer.");
  bind_config<parameters::WeightQuantConfig>(m, "WeightQuantConfig", "A weight quantizer.");
}

}  // namespace tessera::python
