#include "yaml_objects.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <string>

#include "tessera/parameters/yaml_codec.hpp"

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

// Deep enough for any config; a self-referencing list or dict stops here instead of
// recursing until the stack overflows.
constexpr int kMaxDepth = 64;

std::string type_name(const py::handle& value) { return py::str(py::type::of(value).attr("__name__")); }

YAML::Node python_to_node(const py::handle& value, int depth) {
  if (depth > kMaxDepth) {
    throw py::value_error("a config value nested deeper than " + std::to_string(kMaxDepth) +
                          " levels (a list or dict that contains itself?)");
  }
  if (value.is_none()) return YAML::Node(YAML::NodeType::Null);
  if (py::isinstance<py::bool_>(value)) return YAML::Node(value.cast<bool>());
  if (py::isinstance<py::int_>(value)) {
    // Python integers have no bound: one beyond 64 bits is written as its digits, and the field
    // it goes to says whether it takes it.
    return YAML::Node(std::string(py::str(value)));
  }
  if (py::isinstance<py::float_>(value)) {
    // repr gives the shortest text that reads back to the same double.
    const double real = value.cast<double>();
    if (std::isnan(real)) return YAML::Node(".nan");
    if (std::isinf(real)) return YAML::Node(real > 0 ? ".inf" : "-.inf");
    return YAML::Node(std::string(py::repr(value)));
  }
  if (py::isinstance<py::str>(value)) return parameters::yaml::encode(value.cast<std::string>());
  if (py::isinstance(value, py::module_::import("enum").attr("Enum"))) {
    return YAML::Node(value.attr("name").cast<std::string>());
  }
  if (py::isinstance<py::dict>(value)) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.cast<py::dict>()) {
      map[py::str(key).cast<std::string>()] = python_to_node(item, depth + 1);
    }
    return map;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    YAML::Node sequence(YAML::NodeType::Sequence);
    for (const auto& item : value) sequence.push_back(python_to_node(item, depth + 1));
    return sequence;
  }
  // NumPy scalars, 0-d arrays and 0-d torch tensors hold one value: write that value. (Their
  // int() would truncate a float: np.array(1/254) became 0.)
  if (py::hasattr(value, "ndim") && py::hasattr(value, "item")) {
    if (value.attr("ndim").cast<int>() != 0) {
      throw py::type_error("cannot write a " + type_name(value) + " of shape " +
                           std::string(py::str(value.attr("shape"))) +
                           " as a config value (expected a single value; a 0-d array or a scalar)");
    }
    return python_to_node(value.attr("item")(), depth + 1);
  }
  const py::module_ numbers = py::module_::import("numbers");
  const auto object = py::reinterpret_borrow<py::object>(value);
  if (py::isinstance(value, numbers.attr("Integral"))) return python_to_node(py::int_(object), depth + 1);
  if (py::isinstance(value, numbers.attr("Real"))) return python_to_node(py::float_(object), depth + 1);
  throw py::type_error("cannot write a " + type_name(value) +
                       " as a config value (expected bool, int, float, str, list, dict or an enum member)");
}

}  // namespace

py::object yaml_to_python(const std::string& yaml_text) { return node_to_python(YAML::Load(yaml_text)); }

std::string python_to_yaml(const py::handle& value) { return parameters::yaml::emit(python_to_node(value, 0), true); }

}  // namespace tessera::python
