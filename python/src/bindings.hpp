// One function per area of the C++ API, each adding its classes and functions to tessera._core.
#pragma once

#include <pybind11/pybind11.h>

namespace tessera::python {

void bind_errors(pybind11::module_& m);
void bind_parameters(pybind11::module_& m);
void bind_quantizers(pybind11::module_& m);
void bind_tiles(pybind11::module_& m);
void bind_models(pybind11::module_& m);
void bind_conversion(pybind11::module_& m);
void bind_experiments(pybind11::module_& m);

}  // namespace tessera::python
