#include "tessera/nn/cross_layer_equalization.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "graph_queries.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::nn {
namespace {

constexpr int kMaxPasses = 100;
constexpr double kSettled = 1e-6;  // largest |s_c - 1| of a pass that ends the iteration

// How a weight layer's weight tensor maps elements to its output and input channels.
struct WeightLayout {
  std::int64_t outputs = 0, inputs = 0;
  bool conv = false;
  bool out_in = true;          // Gemm: [out, in] (transB = 1) or [in, out]
  std::int64_t groups = 1;     // Conv
  std::int64_t per_group = 0;  // Conv: input channels per group (weight dim 1)
  std::int64_t taps = 1;       // Conv: kernel elements

  static std::optional<WeightLayout> of(const Node& node, const Tensor& weight) {
    WeightLayout l;
    if (node.op_type == "Conv" && weight.rank() >= 3) {
      l.conv = true;
      l.groups = node.attributes.get_int("group", 1);
      l.outputs = weight.dim(0);
      l.per_group = weight.dim(1);
      l.inputs = l.per_group * l.groups;
      l.taps = weight.size() / (l.outputs * l.per_group);
      if (l.groups < 1 || l.outputs % l.groups != 0) return std::nullopt;
      return l;
    }
    if (node.op_type == "Gemm" && weight.rank() == 2 && node.attributes.get_int("transA", 0) == 0) {
      l.out_in = node.attributes.get_int("transB", 0) != 0;
      l.outputs = weight.dim(l.out_in ? 0 : 1);
      l.inputs = weight.dim(l.out_in ? 1 : 0);
      return l;
    }
    return std::nullopt;
  }
  std::int64_t output_channel(std::int64_t k) const {
    if (conv) return k / (per_group * taps);
    return out_in ? k / inputs : k % outputs;
  }
  std::int64_t input_channel(std::int64_t k) const {
    if (conv) {
      const std::int64_t m = k / (per_group * taps);
      return (m / (outputs / groups)) * per_group + (k / taps) % per_group;
    }
    return out_in ? k % inputs : k / outputs;
  }
};

struct Pair {
  std::size_t first = 0, second = 0;  // node indices
  std::optional<std::size_t> relu6;   // a Clip(0, max) between them, to become a Relu
};

bool is_weight_layer(const Graph& graph, const Node& node, const std::map<std::string, int>& reads) {
  if (node.op_type != "Conv" && node.op_type != "Gemm") return false;
  const Tensor* weight = constant_input(graph, node, 1);
  if (weight == nullptr || reads.at(node.inputs[1]) != 1 || !WeightLayout::of(node, *weight)) return false;
  const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
  return !has_bias || (constant_input(graph, node, 2) != nullptr && reads.at(node.inputs[2]) == 1);
}

// A Clip whose lower bound is 0 (ReLU6 and its kind): the upper bound, if it is one.
std::optional<float> clip_from_zero(const Graph& graph, const Node& node) {
  const auto bounds = clip_bounds(graph, node);
  if (!bounds || bounds->first != 0.0f || !(bounds->second > 0.0f)) return std::nullopt;
  return bounds->second;
}

// Ops between a pair that commute with a positive per-channel scale.
bool commutes_with_scaling(const Node& node) {
  return node.op_type == "Relu" || node.op_type == "MaxPool" || node.op_type == "AveragePool";
}

// The pair starting at node `first`: its output, read once at each step, through ops that
// commute with scaling, into another weight layer's data input.
std::optional<Pair> pair_from(const Graph& graph, std::size_t first, const std::map<std::string, int>& reads,
                              const std::map<std::string, std::vector<std::size_t>>& readers) {
  Pair pair{first, 0, std::nullopt};
  std::string value = graph.nodes[first].outputs.at(0);
  for (;;) {
    const auto found = readers.find(value);
    if (reads.at(value) != 1 || found == readers.end() || found->second.size() != 1) return std::nullopt;
    const std::size_t next = found->second.front();
    const Node& node = graph.nodes[next];
    if (node.inputs.empty() || node.inputs[0] != value) return std::nullopt;
    if (is_weight_layer(graph, node, reads)) {
      pair.second = next;
      return pair;
    }
    if (clip_from_zero(graph, node) && !pair.relu6) {
      pair.relu6 = next;
    } else if (!commutes_with_scaling(node) || node.outputs.empty()) {
      return std::nullopt;
    }
    value = node.outputs[0];
  }
}

// max |w| per channel, channel_of(k) the channel of element k.
template <class ChannelOf>
std::vector<double> channel_ranges(const Tensor& weight, std::int64_t channels, ChannelOf channel_of) {
  std::vector<double> range(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t k = 0; k < weight.size(); ++k) {
    double& r = range[static_cast<std::size_t>(channel_of(k))];
    r = std::max(r, static_cast<double>(std::abs(weight[k])));
  }
  return range;
}

// Equalizes one pair; returns the largest |s_c - 1| and, through spread, max/min of r1/r2.
double equalize(Graph& graph, const Pair& pair, double* spread) {
  const Node& first = graph.nodes[pair.first];
  const Node& second = graph.nodes[pair.second];
  Tensor& w1 = graph.initializers.at(first.inputs[1]).tensor;
  Tensor& w2 = graph.initializers.at(second.inputs[1]).tensor;
  const WeightLayout l1 = *WeightLayout::of(first, w1), l2 = *WeightLayout::of(second, w2);
  const std::vector<double> r1 = channel_ranges(w1, l1.outputs, [&](std::int64_t k) { return l1.output_channel(k); });
  const std::vector<double> r2 = channel_ranges(w2, l2.inputs, [&](std::int64_t k) { return l2.input_channel(k); });
  std::vector<double> scale(r1.size(), 1.0);
  double largest_change = 0.0, low = std::numeric_limits<double>::infinity(), high = 0.0;
  for (std::size_t c = 0; c < r1.size(); ++c) {
    if (r1[c] <= 0.0 || r2[c] <= 0.0) continue;  // a dead channel: nothing to balance
    scale[c] = std::sqrt(r1[c] / r2[c]);
    largest_change = std::max(largest_change, std::abs(scale[c] - 1.0));
    low = std::min(low, r1[c] / r2[c]);
    high = std::max(high, r1[c] / r2[c]);
  }
  if (spread != nullptr) *spread = high > 0.0 ? high / low : 1.0;
  for (std::int64_t k = 0; k < w1.size(); ++k) {
    w1[k] = static_cast<float>(w1[k] / scale[static_cast<std::size_t>(l1.output_channel(k))]);
  }
  for (std::int64_t k = 0; k < w2.size(); ++k) {
    w2[k] = static_cast<float>(w2[k] * scale[static_cast<std::size_t>(l2.input_channel(k))]);
  }
  if (first.inputs.size() > 2 && !first.inputs[2].empty()) {
    Tensor& bias = graph.initializers.at(first.inputs[2]).tensor;
    for (std::int64_t c = 0; c < bias.size(); ++c)
      bias[c] = static_cast<float>(bias[c] / scale[static_cast<std::size_t>(c)]);
  }
  // The first layer's output channels shrank by 1 / s_c, and with them their distribution.
  const auto statistics = graph.batch_norm_statistics.find(first.outputs[0]);
  if (statistics != graph.batch_norm_statistics.end() && statistics->second.mean.size() == scale.size()) {
    for (std::size_t c = 0; c < scale.size(); ++c) {
      statistics->second.mean[c] /= scale[c];
      statistics->second.std[c] /= scale[c];
    }
  }
  return largest_change;
}

}  // namespace

Model cross_layer_equalization(const Model& model, EqualizationReport* report) {
  for (const PlannedModule& m : model.plan().modules) {
    if (m.is_converted()) {
      throw ModelError(model.graph().source + ": equalize before converting ('" + m.module + "' is already " +
                       m.became + ")");
    }
  }
  Graph graph = model.graph();
  const std::map<std::string, int> reads = read_counts(graph);
  std::map<std::string, std::vector<std::size_t>> readers;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const std::string& input : graph.nodes[n].inputs) {
      if (!input.empty()) readers[input].push_back(n);
    }
  }
  std::vector<Pair> pairs;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!is_weight_layer(graph, graph.nodes[n], reads) || graph.nodes[n].outputs.empty()) continue;
    const Node& node = graph.nodes[n];
    const WeightLayout layout = *WeightLayout::of(node, *constant_input(graph, node, 1));
    if (node.inputs.size() > 2 && !node.inputs[2].empty() && constant_input(graph, node, 2)->size() != layout.outputs) {
      continue;
    }
    const std::optional<Pair> pair = pair_from(graph, n, reads, readers);
    if (!pair) continue;
    const Node& second = graph.nodes[pair->second];
    if (WeightLayout::of(second, *constant_input(graph, second, 1))->inputs != layout.outputs) continue;
    pairs.push_back(*pair);
  }
  EqualizationReport result;
  for (const Pair& pair : pairs) {
    result.pairs.push_back({graph.nodes[pair.first].module, graph.nodes[pair.second].module, 1.0});
    if (!pair.relu6) continue;
    Node& clip = graph.nodes[*pair.relu6];
    clip.op_type = "Relu";
    clip.inputs.resize(1);
    clip.attributes = Attributes{};
    result.relu6_replaced.push_back(clip.module);
  }
  for (int pass = 0; pass < kMaxPasses && !pairs.empty(); ++pass) {
    double largest_change = 0.0;
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      double* spread = pass == 0 ? &result.pairs[p].spread_before : nullptr;
      largest_change = std::max(largest_change, equalize(graph, pairs[p], spread));
    }
    result.iterations = pass + 1;
    if (largest_change < kSettled) break;
  }
  if (report != nullptr) *report = std::move(result);
  return Model(std::move(graph));
}

}  // namespace tessera::nn
