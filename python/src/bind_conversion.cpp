// The conversion plan and the conversions of ONNX models. tessera.torch describes a torch
// model's modules, asks the same planner (plan_analog / plan_quantized) what each becomes and
// builds that, so both front ends follow one set of rules.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "numpy_tensor.hpp"
#include "tessera/nn/activation_fusion.hpp"
#include "tessera/nn/adaround.hpp"
#include "tessera/nn/batch_norm_folding.hpp"
#include "tessera/nn/bias_correction.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/cross_layer_equalization.hpp"
#include "tessera/nn/module_types.hpp"
#include "tessera/parameters/config_io.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

using nn::ConversionPlan;
using nn::Model;
using nn::PlannedModule;

template <class Config>
py::object yaml_or_none(const std::optional<Config>& config) {
  return config ? py::cast(parameters::save_config(*config)) : py::none();
}

template <class Config>
std::optional<Config> config_or_none(const py::handle& text) {
  if (text.is_none()) return std::nullopt;
  return parameters::load_config_string<Config>(text.cast<std::string>(), "<pickle>");
}

py::tuple plan_state(const ConversionPlan& plan) {
  py::list modules;
  for (const PlannedModule& m : plan.modules) {
    modules.append(py::make_tuple(m.module, m.type, m.holds_weights, yaml_or_none(m.analog),
                                  yaml_or_none(m.quantization), yaml_or_none(m.input_quantization), m.became, m.rule,
                                  m.quantization_rule, m.analog_rule, m.digital_without_exclusion));
  }
  return py::make_tuple(plan.source, plan.analog_seed, modules);
}

ConversionPlan plan_from_state(const py::tuple& state) {
  ConversionPlan plan;
  plan.source = state[0].cast<std::string>();
  plan.analog_seed = state[1].cast<std::uint64_t>();
  for (const py::handle& row : state[2].cast<py::list>()) {
    const auto t = row.cast<py::tuple>();
    PlannedModule m;
    m.module = t[0].cast<std::string>();
    m.type = t[1].cast<std::string>();
    m.holds_weights = t[2].cast<bool>();
    m.analog = config_or_none<parameters::InferenceRPUConfig>(t[3]);
    m.quantization = config_or_none<parameters::QuantizedModuleConfig>(t[4]);
    m.input_quantization = config_or_none<parameters::ActivationQuantConfig>(t[5]);
    m.became = t[6].cast<std::string>();
    m.rule = t[7].cast<std::string>();
    m.quantization_rule = t[8].cast<std::string>();
    m.analog_rule = t[9].cast<std::string>();
    m.digital_without_exclusion = t[10].cast<bool>();
    plan.modules.push_back(std::move(m));
  }
  return plan;
}

py::list plan_rows(const ConversionPlan& plan) {
  py::list rows;
  for (const PlannedModule& m : plan.modules) {
    rows.append(py::dict(py::arg("module") = m.module, py::arg("type") = m.type, py::arg("became") = m.became,
                         py::arg("rule") = m.rule));
  }
  return rows;
}

nn::AnalogConversion analog_conversion(const parameters::InferenceRPUConfig& rpu_config,
                                       const std::vector<std::string>& exclude,
                                       const std::map<std::string, parameters::InferenceRPUConfig>& instances,
                                       const std::optional<std::set<std::string>>& module_types, std::uint64_t seed,
                                       bool strict) {
  nn::AnalogConversion conversion{rpu_config, instances, exclude};
  if (module_types) conversion.module_types = *module_types;
  conversion.seed = seed;
  conversion.strict = strict;
  return conversion;
}

void bind_plan(py::module_& m) {
  py::class_<PlannedModule>(m, "PlannedModule", "What one module becomes, and which rule decided.")
      .def_readonly("module", &PlannedModule::module)
      .def_readonly("type", &PlannedModule::type, "torch class name, e.g. 'Conv2d'")
      .def_readonly("holds_weights", &PlannedModule::holds_weights)
      .def_readonly("analog", &PlannedModule::analog, "InferenceRPUConfig of its tiles, or None")
      .def_readonly("quantization", &PlannedModule::quantization,
                    "QuantizedModuleConfig (weight and output quantizers), or None")
      .def_property_readonly(
          "qconfig",
          [](const PlannedModule& p) -> std::optional<parameters::QuantizationConfig> {
            if (!p.quantization) return std::nullopt;
            return p.quantization->module_qconfig;
          },
          "The QuantizationConfig of its quantization, or None")
      .def_readonly("input_quantization", &PlannedModule::input_quantization,
                    "ActivationQuantConfig of its own input quantizer, or None")
      .def_readonly("became", &PlannedModule::became)
      .def_readonly("rule", &PlannedModule::rule)
      .def_readonly("digital_without_exclusion", &PlannedModule::digital_without_exclusion,
                    "holds a weight matrix that stays digital though nothing excluded it")
      .def_property_readonly("is_converted", &PlannedModule::is_converted)
      .def_property_readonly("quantizes_weights", &PlannedModule::quantizes_weights)
      .def_property_readonly("quantizes_outputs", &PlannedModule::quantizes_outputs)
      .def("__repr__", [](const PlannedModule& p) {
        return "<PlannedModule " + p.module + ": " + p.type + " -> " + p.became + " (" + p.rule + ")>";
      });
  py::class_<ConversionPlan>(m, "ConversionPlan",
                             "For every module: float, quantized (config) or analog (config), and the rule.")
      .def(py::init(
               [](const std::vector<std::tuple<std::string, std::string, bool>>& modules, const std::string& source) {
                 std::vector<nn::ModuleDescription> descriptions;
                 for (const auto& [name, type, holds_weights] : modules)
                   descriptions.push_back({name, type, holds_weights});
                 return nn::float_plan(descriptions, source);
               }),
           py::arg("modules"), py::arg("source") = "the model",
           "The plan of an unconverted model from (name, type, holds_weights) per module.")
      .def_readonly("modules", &ConversionPlan::modules)
      .def_readonly("source", &ConversionPlan::source)
      .def_readonly("analog_seed", &ConversionPlan::analog_seed)
      .def(
          "find", [](const ConversionPlan& p, const std::string& name) { return p.find(name); },
          py::return_value_policy::reference_internal, py::arg("module"))
      .def("digital_without_exclusion", &ConversionPlan::digital_without_exclusion,
           "Modules with a weight matrix that stay digital though nothing excluded them.")
      .def("rows", &plan_rows, "[{'module', 'type', 'became', 'rule'}] per module (pandas.DataFrame(rows) reads it).")
      .def("__str__", &ConversionPlan::to_string)
      .def(py::self == py::self)  // NOLINT(misc-redundant-expression)
      .def(py::pickle(&plan_state, &plan_from_state));
  m.def(
      "plan_analog",
      [](const ConversionPlan& plan, const parameters::InferenceRPUConfig& rpu_config,
         const std::vector<std::string>& exclude,
         const std::map<std::string, parameters::InferenceRPUConfig>& instance_rpu_configs,
         const std::optional<std::set<std::string>>& module_types, std::uint64_t seed, bool strict) {
        return nn::plan_analog(
            plan, analog_conversion(rpu_config, exclude, instance_rpu_configs, module_types, seed, strict));
      },
      py::arg("plan"), py::arg("rpu_config"), py::arg("exclude") = std::vector<std::string>{},
      py::arg("instance_rpu_configs") = std::map<std::string, parameters::InferenceRPUConfig>{},
      py::arg("module_types") = py::none(), py::arg("seed") = 0, py::arg("strict") = false,
      "The plan with analog conversion added (the rules of convert_to_analog).");
  m.def("plan_quantized", &nn::plan_quantized, py::arg("plan"), py::arg("quantization_map"), py::arg("strict") = false,
        "The plan with quantization by a QuantizationMap added (exclusion > instance > type).");
  m.def(
      "plan_fused",
      [](const ConversionPlan& plan, const std::vector<std::pair<std::string, std::string>>& pairs,
         const parameters::QuantizationMap& map) {
        std::vector<nn::ActivationPair> activation_pairs;
        for (const auto& [layer, activation] : pairs) activation_pairs.push_back({layer, activation});
        return nn::plan_fused(plan, activation_pairs, map);
      },
      py::arg("plan"), py::arg("pairs"), py::arg("quantization_map"),
      "The plan with activation fusion: for each (layer, activation) pair whose layer quantizes its output, that "
      "quantizer moves behind the activation (torch.ao's ConvReLU2d, AIMET's supergroups).");
  m.def("torch_module_types", &nn::torch_module_types, "The module types tessera knows (torch class names).");
  m.def(
      "module_type_traits",
      [](const std::string& type) {
        const nn::ModuleTypeTraits t = nn::module_type_traits(type);
        return py::dict(py::arg("analog") = t.analog, py::arg("quantized_weights") = t.quantized_weights,
                        py::arg("weight_matrix") = t.weight_matrix, py::arg("normalization") = t.normalization);
      },
      py::arg("type"));
  m.def("in_subtree", &nn::in_subtree, py::arg("name"), py::arg("root"),
        "Whether module `name` is `root` or lies below it ('features.0' is in 'features', 'features0' is not).");
  m.def("check_module_names", &nn::check_module_names, py::arg("key"), py::arg("names"), py::arg("module_names"),
        py::arg("containers_allowed"), py::arg("source"),
        "Raises ModelError when a name under `key` is not a module (or, if allowed, the root of some).");
}

void bind_onnx_conversion(py::module_& m) {
  m.def(
      "convert_onnx_to_analog",
      [](const Model& model, const parameters::InferenceRPUConfig& rpu_config,
         const std::vector<std::string>& exclude_modules,
         const std::map<std::string, parameters::InferenceRPUConfig>& instance_rpu_configs,
         const std::optional<std::set<std::string>>& module_types, std::uint64_t seed, bool strict) {
        const nn::AnalogConversion conversion =
            analog_conversion(rpu_config, exclude_modules, instance_rpu_configs, module_types, seed, strict);
        py::gil_scoped_release release;
        return nn::convert_to_analog(model, conversion);
      },
      py::arg("model"), py::arg("rpu_config") = parameters::InferenceRPUConfig{},
      py::arg("exclude_modules") = std::vector<std::string>{},
      py::arg("instance_rpu_configs") = std::map<std::string, parameters::InferenceRPUConfig>{},
      py::arg("module_types") = py::none(), py::arg("seed") = 0, py::arg("strict") = false,
      "A copy of an ONNX model with its Linear/Conv/recurrent/attention products on analog tiles, on top of any "
      "earlier conversion; what each module became: model.plan.rows().");
  m.def(
      "convert_onnx_to_quantized",
      [](const Model& model, const parameters::QuantizationMap& map, bool strict) {
        py::gil_scoped_release release;
        return nn::convert_to_quantized(model, map, nullptr, strict);
      },
      py::arg("model"), py::arg("quantization_map"), py::arg("strict") = false,
      "A copy of an ONNX model with fake-quantized layers by the map's rules, on top of any earlier conversion; "
      "what each module became: model.plan.rows().");
}

py::list as_tuples(const std::vector<nn::ActivationPair>& pairs) {
  py::list tuples;
  for (const nn::ActivationPair& p : pairs) tuples.append(py::make_tuple(p.layer, p.activation));
  return tuples;
}

}  // namespace

void bind_conversion(py::module_& m) {
  bind_plan(m);
  bind_onnx_conversion(m);
  m.def(
      "fold_batch_norms",
      [](const Model& model) {
        std::vector<nn::FoldedBatchNorm> folded;
        Model result = nn::fold_batch_norms(model, &folded);
        py::list pairs;
        for (const nn::FoldedBatchNorm& f : folded) pairs.append(py::make_tuple(f.batch_norm, f.layer));
        return py::make_tuple(std::move(result), pairs);
      },
      py::arg("model"),
      "AIMET's fold_all_batch_norms on an ONNX model: (folded model, [(batch norm, layer)]) with every "
      "BatchNormalization that directly follows a Conv or Gemm folded into it.");
  m.def(
      "cross_layer_equalization",
      [](const Model& model) {
        nn::EqualizationReport report;
        Model result = [&] {
          py::gil_scoped_release release;
          return nn::cross_layer_equalization(model, &report);
        }();
        py::list pairs;
        for (const nn::EqualizedPair& p : report.pairs) {
          pairs.append(py::dict(py::arg("first") = p.first, py::arg("second") = p.second,
                                py::arg("spread_before") = p.spread_before));
        }
        return py::make_tuple(std::move(result),
                              py::dict(py::arg("pairs") = pairs, py::arg("relu6_replaced") = report.relu6_replaced,
                                       py::arg("iterations") = report.iterations));
      },
      py::arg("model"),
      "Cross-layer equalization (AIMET's equalize_model) on an unconverted ONNX model: (equalized model, report) "
      "with report {'pairs': [{'first', 'second', 'spread_before'}], 'relu6_replaced': [...], 'iterations': n}. "
      "Fold BatchNorms first.");
  m.def(
      "correct_biases",
      [](const Model& model, const py::handle& data, std::int64_t batch_size, const std::string& method) {
        const simulator::Tensor samples = to_tensor(data, "data");
        if (method != "empirical" && method != "analytical") {
          throw py::value_error("correct_biases: method is 'empirical' or 'analytical', found '" + method + "'");
        }
        std::vector<nn::CorrectedBias> report;
        Model result = [&] {
          py::gil_scoped_release release;
          return nn::correct_biases(model, samples, batch_size, &report,
                                    method == "analytical" ? nn::BiasCorrectionMethod::analytical
                                                           : nn::BiasCorrectionMethod::empirical);
        }();
        py::list rows;
        for (const nn::CorrectedBias& r : report) {
          rows.append(py::dict(py::arg("module") = r.module, py::arg("mean_abs_shift") = r.mean_abs_shift,
                               py::arg("largest_shift") = r.largest_shift, py::arg("method") = r.method));
        }
        return py::make_tuple(std::move(result), rows);
      },
      py::arg("model"), py::arg("data"), py::arg("batch_size") = 256, py::arg("method") = "empirical",
      "Bias correction (AIMET's correct_bias) of a quantized ONNX model on calibration data: (corrected model, "
      "[{'module', 'mean_abs_shift', 'largest_shift', 'method'}]). method='analytical' computes the shift from the "
      "statistics of a folded BatchNorm (through a ReLU or ReLU6) where a layer's input has them, and measures it "
      "elsewhere. Calibrate the result's activation quantizers after.");
  m.def(
      "adaround",
      [](const Model& model, const py::handle& data, std::int64_t batch_size, int num_iterations, double reg_param,
         std::pair<double, double> beta_range, double warm_start, double learning_rate, std::uint64_t seed) {
        const simulator::Tensor samples = to_tensor(data, "data");
        nn::AdaRoundParameters parameters;
        parameters.num_iterations = num_iterations;
        parameters.reg_param = reg_param;
        parameters.beta_start = beta_range.first;
        parameters.beta_end = beta_range.second;
        parameters.warm_start = warm_start;
        parameters.learning_rate = learning_rate;
        parameters.seed = seed;
        std::vector<nn::AdaRoundedLayer> report;
        Model result = [&] {
          py::gil_scoped_release release;
          return nn::adaround(model, samples, batch_size, parameters, &report);
        }();
        py::list rows;
        for (const nn::AdaRoundedLayer& r : report) {
          rows.append(py::dict(py::arg("module") = r.module, py::arg("nearest_error") = r.nearest_error,
                               py::arg("adaround_error") = r.adaround_error, py::arg("undecided") = r.undecided,
                               py::arg("flipped") = r.flipped));
        }
        return py::make_tuple(std::move(result), rows);
      },
      py::arg("model"), py::arg("data"), py::arg("batch_size") = 256, py::arg("num_iterations") = 10000,
      py::arg("reg_param") = 0.01, py::arg("beta_range") = std::pair<double, double>{20.0, 2.0},
      py::arg("warm_start") = 0.2, py::arg("learning_rate") = 1e-3, py::arg("seed") = 0,
      "AdaRound (AIMET's apply_adaround, its default hyperparameters) of a quantized ONNX model's Conv/Gemm weights on "
      "calibration data: (rounded model, [{'module', 'nearest_error', 'adaround_error', 'undecided', 'flipped'}]). "
      "The weight encodings stay those of `model`; calibrate the result's activation quantizers after.");
  m.def(
      "activation_pairs", [](const Model& model) { return as_tuples(nn::activation_pairs(model)); }, py::arg("model"),
      "[(layer, activation)]: every Linear/Conv module of an ONNX model whose output only a ReLU, ReLU6, Hardtanh "
      "or Hardswish module reads.");
  m.def(
      "fuse_activations",
      [](const Model& model, const parameters::QuantizationMap& map) {
        std::vector<nn::ActivationPair> fused;
        Model result = [&] {
          py::gil_scoped_release release;
          return nn::fuse_activations(model.copy(), map, &fused);
        }();
        return py::make_tuple(std::move(result), as_tuples(fused));
      },
      py::arg("model"), py::arg("quantization_map"),
      "Activation fusion on a quantized ONNX model: (fused model, [(layer, activation)]) with each layer's output "
      "quantizer moved behind the activation that alone reads it, as deployed int8 kernels quantize.");
}

}  // namespace tessera::python
