#include "tessera/nn/conversion.hpp"

#include "layers.hpp"
#include "ops/op_support.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/module_types.hpp"

namespace tessera::nn {
namespace {

bool is_constant(const Node& node, const Graph& graph, std::size_t input) {
  return input < node.inputs.size() && graph.initializers.count(node.inputs[input]) > 0;
}

std::int64_t constant_rank(const Node& node, const Graph& graph, std::size_t input) {
  return is_constant(node, graph, input) ? graph.initializers.at(node.inputs[input]).tensor.rank() : -1;
}

// The calls of a module, each a list of its nodes in graph order.
std::vector<std::vector<std::size_t>> calls_of(const Model& model, const ModuleInfo& module) {
  std::vector<std::vector<std::size_t>> calls;
  for (std::size_t n : module.nodes) {
    const auto call = static_cast<std::size_t>(model.graph().nodes[n].call);
    if (calls.size() <= call) calls.resize(call + 1);
    calls[call].push_back(n);
  }
  std::erase_if(calls, [](const auto& nodes) { return nodes.empty(); });
  return calls;
}

// Whether two plan entries build the same layers.
bool same_layers(const PlannedModule& a, const PlannedModule& b, bool same_seed) {
  return a.analog == b.analog && a.quantization == b.quantization && a.input_quantization == b.input_quantization &&
         (!a.analog || same_seed);
}

// Builds the operators of one module as its plan entry says.
void build_module(Model& model, const ModuleInfo& module, const PlannedModule& entry, std::uint64_t seed) {
  const Graph& graph = model.graph();
  SharedTiles tiles;
  bool any_weight = false;
  std::vector<std::unique_ptr<Operator>> operators(graph.nodes.size());
  bool any_product = false;  // a weight product tiles can hold (an Embedding's table lookup is none)
  for (std::size_t n : module.nodes) {
    const Node& node = graph.nodes[n];
    const bool weighted = !weight_inputs(node, graph).empty();
    const bool product = weighted && node.op_type != "Gather";
    any_weight = any_weight || weighted;
    any_product = any_product || product;
    operators[n] = entry.analog && product ? make_analog_layer(node, graph, *entry.analog, seed, tiles)
                                           : make_operator(node, graph.opset);
  }
  const std::string where = graph.source + ": module '" + module.name + "' (" + module.type + ")";
  if (entry.analog && !any_product) {
    throw UnsupportedError(where + ": the plan puts it on tiles, but none of its nodes multiplies by a constant "
                                   "weight");
  }
  if (entry.quantizes_weights() && module_type_traits(entry.type).quantized_weights && !any_weight) {
    throw UnsupportedError(where + ": the plan quantizes its weights, but none of its nodes has a constant weight");
  }
  if (entry.quantization || entry.input_quantization) {
    // Each call of the module quantizes its own input and output (a ReLU reused in a ResNet
    // block sees other ranges in its second call), as torch.ao's graph mode does.
    for (const std::vector<std::size_t>& call : calls_of(model, module)) {
      for (std::size_t n : call) {
        QuantizedNodeConfig config;
        if (n == call.front() && entry.input_quantization) config.input = activation_quantizer(&*entry.input_quantization);
        if (n == call.back() && entry.quantization) {
          config.output = activation_quantizer(&entry.quantization->module_qconfig.activation_quant);
        }
        const Node& node = graph.nodes[n];
        if (entry.quantizes_weights() && !entry.analog && !weight_inputs(node, graph).empty()) {
          config.weight = &entry.quantization->module_qconfig.weight_quant;
        }
        if (!config.input && !config.output && config.weight == nullptr) continue;
        operators[n] = make_quantized_layer(node, graph, std::move(operators[n]), std::move(config));
      }
    }
  }
  for (std::size_t n : module.nodes) {
    carry_encodings(model.operator_of(n), *operators[n]);  // calibrated quantizers the new plan keeps
    model.replace_operator(n, std::move(operators[n]));
  }
}

}  // namespace

std::vector<std::size_t> weight_inputs(const Node& node, const Graph& graph) {
  const std::string& op = node.op_type;
  std::vector<std::size_t> inputs;
  if ((op == "Gemm" || op == "Conv") && is_constant(node, graph, 1)) inputs.push_back(1);
  if (op == "MatMul" && constant_rank(node, graph, 1) == 2) inputs.push_back(1);
  if (op == "Gather" && constant_rank(node, graph, 0) >= 2) inputs.push_back(0);
  if (op == "LSTM" || op == "GRU" || op == "RNN") {
    for (std::size_t k : {1, 2}) {
      if (is_constant(node, graph, k)) inputs.push_back(k);
    }
  }
  return inputs;
}

Model apply_plan(Model&& model, const ConversionPlan& plan) {
  const ConversionPlan& current = model.plan();
  if (plan.modules.size() != model.modules().size()) {
    throw ModelError(model.graph().source + ": a plan of " + std::to_string(plan.modules.size()) +
                     " modules does not fit a model of " + std::to_string(model.modules().size()));
  }
  for (std::size_t m = 0; m < plan.modules.size(); ++m) {
    const ModuleInfo& module = model.modules()[m];
    const PlannedModule& entry = plan.modules[m];
    if (entry.module != module.name) {
      throw ModelError(model.graph().source + ": the plan's module " + std::to_string(m) + " is '" + entry.module +
                       "', the model's is '" + module.name + "'");
    }
    if (same_layers(entry, current.modules[m], plan.analog_seed == current.analog_seed)) continue;
    build_module(model, module, entry, plan.analog_seed);
  }
  model.plan_ = plan;
  // Integer kernels may read the encodings of operators just replaced: propagate them again.
  if (model.integer_kernels_) model.use_integer_kernels();
  return std::move(model);
}

Model convert_to_analog(const Model& model, const AnalogConversion& conversion, ConversionPlan* plan) {
  return convert_to_analog(model.copy(), conversion, plan);
}

Model convert_to_analog(Model&& model, const AnalogConversion& conversion, ConversionPlan* plan) {
  ConversionPlan planned = plan_analog(model.plan(), conversion);
  Model converted = apply_plan(std::move(model), planned);
  if (plan != nullptr) *plan = converted.plan();
  return converted;
}

Model convert_to_quantized(const Model& model, const parameters::QuantizationMap& map, ConversionPlan* plan,
                           bool strict) {
  return convert_to_quantized(model.copy(), map, plan, strict);
}

Model convert_to_quantized(Model&& model, const parameters::QuantizationMap& map, ConversionPlan* plan, bool strict) {
  ConversionPlan planned = plan_quantized(model.plan(), map, strict);
  Model converted = apply_plan(std::move(model), planned);
  if (plan != nullptr) *plan = converted.plan();
  return converted;
}

}  // namespace tessera::nn
