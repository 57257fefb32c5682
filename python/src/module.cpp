// tessera._core: the compiled half of the tessera Python package. The pure-Python half
// (python/tessera) wraps it with attribute-style configs and the torch modules.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/parameters/config_error.hpp"

namespace py = pybind11;

namespace tessera::python {

void bind_errors(py::module_& m) {
  // C++ errors keep their messages (file, position, key path) and become Python exceptions a
  // user can catch by kind; all of them are ValueErrors, as a bad argument would be.
  static py::exception<parameters::ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<nn::ModelError> model_error(m, "ModelError", PyExc_ValueError);
  static py::exception<nn::UnsupportedError> unsupported_error(m, "UnsupportedError", model_error.ptr());
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const nn::UnsupportedError& e) {
      unsupported_error(e.what());
    } catch (const nn::ModelError& e) {
      model_error(e.what());
    } catch (const parameters::ConfigError& e) {
      config_error(e.what());
    }
  });
}

}  // namespace tessera::python

PYBIND11_MODULE(_core, m) {
  m.doc() = "tessera's C++ core: configs, quantizers, analog tiles, models and sweeps";
  tessera::python::bind_errors(m);
  tessera::python::bind_parameters(m);
  tessera::python::bind_quantizers(m);
  tessera::python::bind_tiles(m);
  tessera::python::bind_models(m);
  tessera::python::bind_conversion(m);
  tessera::python::bind_experiments(m);
}
