// YAML values <-> plain Python objects (dict, list, int, float, bool, str, None), so that configs
// read and write as Python values without a YAML library on the Python side.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace tessera::python {

/// Parses YAML text (a scalar or a document) into Python objects. Scalars become bool, int or
/// float when YAML would read them so, else str.
pybind11::object yaml_to_python(const std::string& yaml_text);

/// Writes a Python value as YAML text: dict, list/tuple, bool, int, float, str, None, and
/// enum members (by name). TypeError for anything else.
std::string python_to_yaml(const pybind11::handle& value);

}  // namespace tessera::python
