// Affine quantizers with AIMET's names: QuantizeDequantize (fake quantization, what torch calls
// fake_quantize_per_{tensor,channel}_affine), Quantize (integer levels) and Dequantize.
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "numpy_tensor.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/parameters/enum_names.hpp"
#include "tessera/simulator/affine_quantizer.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

using simulator::AffineQuantizer;
using simulator::QuantizerOptions;

parameters::RangeEstimator range_estimator_named(const std::string& name) {
  if (auto value = parameters::enum_from_name<parameters::RangeEstimator>(name)) return *value;
  std::string known;
  for (const auto& [value, text] : parameters::EnumNames<parameters::RangeEstimator>::kNames) {
    known += (known.empty() ? "" : ", ") + std::string(text);
  }
  throw py::value_error("range_estimator: unknown '" + name + "' (known: " + known + ")");
}

QuantizerOptions make_options(const simulator::Shape& shape, int bitwidth, bool symmetric,
                              std::optional<bool> is_signed, const simulator::Shape& block_size,
                              const std::string& range_estimator) {
  QuantizerOptions options;
  options.shape = shape;
  options.bitwidth = bitwidth;
  options.symmetric = symmetric;
  options.is_signed = is_signed;
  options.block_size = block_size;
  options.range_estimator = range_estimator_named(range_estimator);
  return options;
}

// Pickling (and so copy.deepcopy and torch.save of models holding quantizers) keeps the options
// and the encodings; a calibration in progress is not carried over.
template <class Quantizer>
py::tuple quantizer_state(const Quantizer& q) {
  const QuantizerOptions& o = q.options();
  return py::make_tuple(o.shape, o.bitwidth, o.symmetric, o.is_signed, o.block_size,
                        std::string(parameters::enum_name(o.range_estimator)),
                        parameters::save_config(o.range_estimator_params), q.is_initialized(), q.scale(),
                        q.zero_point());
}

template <class Quantizer>
std::unique_ptr<Quantizer> quantizer_from_state(const py::tuple& state) {
  if (state.size() != 10) throw py::value_error("not a pickled tessera quantizer");
  QuantizerOptions options = make_options(state[0].cast<simulator::Shape>(), state[1].cast<int>(),
                                          state[2].cast<bool>(), state[3].cast<std::optional<bool>>(),
                                          state[4].cast<simulator::Shape>(), state[5].cast<std::string>());
  options.range_estimator_params =
      parameters::load_config_string<parameters::RangeEstimatorParameters>(state[6].cast<std::string>(), "<pickle>");
  auto quantizer = std::make_unique<Quantizer>(options);
  if (state[7].cast<bool>()) {
    quantizer->set_encodings(state[8].cast<std::vector<float>>(), state[9].cast<std::vector<std::int64_t>>());
  }
  return quantizer;
}

template <class Quantizer>
void bind_quantizer(py::module_& m, const char* name, const char* doc) {
  py::class_<Quantizer, AffineQuantizer>(m, name, doc)
      .def(py::init([](const simulator::Shape& shape, int bitwidth, bool symmetric, std::optional<bool> is_signed,
                       const simulator::Shape& block_size, const std::string& range_estimator) {
             return std::make_unique<Quantizer>(
                 make_options(shape, bitwidth, symmetric, is_signed, block_size, range_estimator));
           }),
           py::arg("shape") = simulator::Shape{}, py::arg("bitwidth") = 8, py::arg("symmetric") = false,
           py::arg("is_signed") = py::none(), py::arg("block_size") = simulator::Shape{},
           py::arg("range_estimator") = "current_minmax")
      .def(
          "__call__",
          [](Quantizer& q, const py::handle& input) {
            const simulator::Tensor x = to_tensor(input, "input");
            return compute_without_gil([&] { return q(x); });
          },
          py::arg("input"))
      .def(py::pickle(&quantizer_state<Quantizer>, &quantizer_from_state<Quantizer>));
}

}  // namespace

void bind_quantizers(py::module_& m) {
  py::class_<AffineQuantizer>(m, "AffineQuantizer", "Encodings (scale, zero point) and their calibration.")
      .def_property_readonly("bitwidth", [](const AffineQuantizer& q) { return q.options().bitwidth; })
      .def_property_readonly("symmetric", [](const AffineQuantizer& q) { return q.options().symmetric; })
      .def_property_readonly("shape", [](const AffineQuantizer& q) { return q.options().shape; })
      .def_property_readonly("qmin", [](const AffineQuantizer& q) { return q.grid().qmin; })
      .def_property_readonly("qmax", [](const AffineQuantizer& q) { return q.grid().qmax; })
      .def_property_readonly("is_initialized", &AffineQuantizer::is_initialized)
      .def_property_readonly("is_calibrating", &AffineQuantizer::is_calibrating)
      .def_property_readonly("scale", [](const AffineQuantizer& q) { return to_numpy(q.scale()); })
      .def_property_readonly("zero_point", &AffineQuantizer::zero_point)
      .def_property_readonly("offset", &AffineQuantizer::offset, "AIMET's offset: -zero_point.")
      .def_property_readonly("min", [](const AffineQuantizer& q) { return to_numpy(q.min()); })
      .def_property_readonly("max", [](const AffineQuantizer& q) { return to_numpy(q.max()); })
      .def(
          "set_range",
          [](AffineQuantizer& q, const std::vector<float>& min, const std::vector<float>& max) {
            q.set_range(min, max);
          },
          py::arg("min"), py::arg("max"), "Sets encodings from a float range per channel (the grid is fitted to it).")
      .def(
          "set_encodings",
          [](AffineQuantizer& q, const std::vector<float>& scale, const std::vector<std::int64_t>& zero_point) {
            q.set_encodings(scale, zero_point);
          },
          py::arg("scale"), py::arg("zero_point"), "Sets scale (> 0) and integer zero point per channel.")
      .def("begin_calibration", &AffineQuantizer::begin_calibration,
           "From now on, calls observe their inputs (and pass them through unquantized).")
      .def("end_calibration", &AffineQuantizer::end_calibration, "Fixes the encodings from what was observed.");
  bind_quantizer<simulator::QuantizeDequantize>(m, "QuantizeDequantize",
                                                "Fake quantization: values on the grid, as float32.");
  bind_quantizer<simulator::Quantize>(m, "Quantize", "Quantization to integer levels (returned as float32).");
  py::class_<simulator::Dequantize>(m, "Dequantize", "Integer levels back to float with a quantizer's encodings.")
      .def(py::init<const AffineQuantizer&>(), py::arg("encodings"))
      .def("__call__", [](const simulator::Dequantize& d, const py::handle& levels) {
        simulator::Tensor x = to_tensor(levels, "levels");
        return to_numpy(d(x));
      });
  m.def(
      "activation_quantizer",
      [](const parameters::ActivationQuantConfig& config) {
        return std::make_unique<simulator::QuantizeDequantize>(simulator::activation_quantizer_options(config));
      },
      py::arg("config"), "The QuantizeDequantize a QuantizationMap entry gives an activation (as the C++ layers).");
  m.def(
      "output_quantizer",
      [](const parameters::QuantizationConfig& config) {
        return std::make_unique<simulator::QuantizeDequantize>(
            simulator::activation_quantizer_options(config.activation_quant));
      },
      py::arg("qconfig"), "The output QuantizeDequantize of a module's QuantizationConfig (as the C++ layers).");
  m.def(
      "weight_quantizer",
      [](const parameters::QuantizationConfig& config, const simulator::Shape& weight_shape, int output_axis) {
        return std::make_unique<simulator::QuantizeDequantize>(
            simulator::weight_quantizer_options(config.weight_quant, weight_shape, output_axis));
      },
      py::arg("qconfig"), py::arg("weight_shape"), py::arg("output_axis"),
      "The weight QuantizeDequantize of a module's QuantizationConfig (as the C++ layers).");
  m.def("per_channel_shape", &simulator::per_channel_shape, py::arg("data_shape"), py::arg("axis"),
        "The encoding shape of one scale per index of `axis` (torch's per-channel axis).");
}

}  // namespace tessera::python
