#include "yaml_objects.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <string>

namespace py = pybind11;

namespace tessera::python {
namespace {

py::object scalar_to_python(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return py::str(text);  // quoted: a string whatever it looks like
  if (text == "true" || text == "True") return py::bool_(true);
  if (text == "false" || text == "False") return py::bool_(false);
  if (text == "~" || text == "null") return py::none();
  long long integer = 0;
  if (YAML::convert<long long>::decode(node, integer)) return py::int_(integer);
  double real = 0.0;
  if (YAML::convert<double>::decode(node, real)) return py::float_(real);
  return py::str(text);
}

py::object node_to_python(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      py::dict dict;
      for (const auto& entry : node) dict[py::str(entry.first.Scalar())] = node_to_python(entry.second);
      return dict;
    }
    case YAML::NodeType::Sequence: {
      py::list list;
      for (const auto& item : node) list.append(node_to_python(item));
      return list;
    }
    case YAML::NodeType::Scalar:
      return scalar_to_python(node);
    default:
      return py::none();
  }
}

YAML::Node python_to_node(const py::handle& value) {
  if (value.is_none()) return YAML::Node(YAML::NodeType::Null);
  if (py::isinstance<py::bool_>(value)) return YAML::Node(value.cast<bool>());
  if (py::isinstance<py::int_>(value)) return YAML::Node(value.cast<long long>());
  if (py::isinstance<py::float_>(value)) {
    // repr gives the shortest text that reads back to the same double.
    const double real = value.cast<double>();
    if (std::isnan(real)) return YAML::Node(".nan");
    if (std::isinf(real)) return YAML::Node(real > 0 ? ".inf" : "-.inf");
    return YAML::Node(std::string(py::repr(value)));
  }
  if (py::isinstance<py::str>(value)) return YAML::Node(value.cast<std::string>());
  if (py::hasattr(value, "name") && py::hasattr(value, "value") &&
      py::isinstance(value, py::module_::import("enum").attr("Enum"))) {
    return YAML::Node(value.attr("name").cast<std::string>());
  }
  if (py::isinstance<py::dict>(value)) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.cast<py::dict>()) map[py::str(key).cast<std::string>()] = python_to_node(item);
    return map;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    YAML::Node sequence(YAML::NodeType::Sequence);
    for (const auto& item : value) sequence.push_back(python_to_node(item));
    return sequence;
  }
  // numpy scalars and other numbers: integers first, so that n_bits stays an int
  if (py::hasattr(value, "__index__"))
    return YAML::Node(py::int_(py::reinterpret_borrow<py::object>(value)).cast<long long>());
  if (py::hasattr(value, "__float__") && !py::isinstance<py::str>(value)) {
    return python_to_node(py::float_(py::reinterpret_borrow<py::object>(value)));
  }
  throw py::type_error("cannot write a " + std::string(py::str(py::type::of(value).attr("__name__"))) +
                       " as a config value (expected bool, int, float, str, list, dict or an enum member)");
}

}  // namespace

py::object yaml_to_python(const std::string& yaml_text) { return node_to_python(YAML::Load(yaml_text)); }

std::string python_to_yaml(const py::handle& value) {
  YAML::Emitter out;
  out << YAML::Flow << python_to_node(value);
  return out.c_str();
}

}  // namespace tessera::python
