// Analog layers: the layer's weights live on a tile array; the MVM goes through its periphery.
//   Linear (Gemm / MatMul with a constant weight): y = tiles(x) + bias
//   Conv: im2col patches of every group through that group's tile array, then the bias.
#include <optional>

#include "layers.hpp"
#include "ops/conv.hpp"
#include "ops/linear.hpp"
#include "ops/op_support.hpp"
#include "ops/recurrent.hpp"
#include "tessera/tiles/tile_array.hpp"

namespace tessera::nn {
namespace {

using ops::invalid;
using ops::unsupported;
using tiles::AnalogTileArray;

const Tensor* constant_input(const Node& node, const Graph& graph, std::size_t index) {
  if (index >= node.inputs.size()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[index]);
  return found == graph.initializers.end() ? nullptr : &found->second.tensor;
}

// Lifecycle calls (program, drift, backend) reach shared tile arrays once: through the layer
// that created them.
class AnalogLinear final : public Operator {
 public:
  AnalogLinear(const Node& node, const Graph& graph, const parameters::InferenceRPUConfig& config, std::uint64_t seed,
               SharedTiles& shared)
      : node_(node) {
    const Tensor* weight = constant_input(node, graph, 1);
    if (weight == nullptr || weight->rank() != 2) unsupported(node, "an analog layer needs a constant 2-D weight");
    Tensor logical;
    if (node.op_type == "Gemm") {
      if (node.attributes.get_int("transA", 0) != 0) unsupported(node, "transA = 1 cannot be mapped to a tile");
      const float alpha = node.attributes.get_float("alpha", 1.0f);
      logical = node.attributes.get_int("transB", 0) != 0 ? *weight : ops::transpose_matrix(*weight);
      for (float& w : logical.values()) w *= alpha;
      if (const Tensor* bias = constant_input(node, graph, 2)) {
        if (bias->size() != logical.dim(0)) unsupported(node, "only a per-output bias can be added digitally");
        const float beta = node.attributes.get_float("beta", 1.0f);
        bias_.assign(bias->values().begin(), bias->values().end());
        for (float& b : bias_) b *= beta;
      } else if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
        unsupported(node, "the bias C must be a constant");
      }
    } else {
      logical = ops::transpose_matrix(*weight);  // MatMul: x [.., in] * W [in, out]
    }
    ops::require_finite(node, *weight, "weight");
    ops::require_finite(node, Tensor({static_cast<std::int64_t>(bias_.size())}, bias_), "bias");
    auto& tiles = shared[node.inputs[1]];
    owner_ = tiles.empty();
    if (owner_) {
      tiles.push_back(std::make_shared<AnalogTileArray>(logical.dim(0), logical.dim(1), config, seed, node.module));
      tiles.back()->set_weights(logical);
      tiles.back()->set_bias(bias_);
    } else if (tiles.front()->bias() != bias_) {
      unsupported(node, "shares its weight with an earlier call of module '" + node.module + "' but not its bias");
    }
    tiles_ = tiles.front();
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override {
    const Tensor& x = ops::input(inputs, 0, node_).tensor;
    if (x.rank() < 1 || x.dim(x.rank() - 1) != tiles_->in_size()) {
      invalid(node_, "expects inputs with " + std::to_string(tiles_->in_size()) + " features, got " +
                         simulator::shape_to_string(x.shape()));
    }
    Tensor rows = x;
    rows.reshape({x.size() / tiles_->in_size(), tiles_->in_size()});
    Tensor y = tiles_->forward(rows);
    Shape shape = x.shape();
    shape.back() = tiles_->out_size();
    y.reshape(shape);
    return {Value::floats(std::move(y))};
  }
  void program() override {
    if (owner_) tiles_->program();
  }
  void set_backend(simulator::Backend backend) override {
    if (owner_) tiles_->set_backend(backend);
  }
  void drift(double t) override {
    if (owner_) tiles_->drift(t);
  }

 private:
  const Node& node_;
  std::vector<float> bias_;
  std::shared_ptr<AnalogTileArray> tiles_;
  bool owner_ = false;
};

class AnalogConv final : public Operator {
 public:
  AnalogConv(const Node& node, const Graph& graph, const parameters::InferenceRPUConfig& config, std::uint64_t seed,
             SharedTiles& shared)
      : node_(node) {
    const Tensor* weight = constant_input(node, graph, 1);
    if (weight == nullptr || weight->rank() < 3) unsupported(node, "an analog convolution needs a constant weight");
    weight_shape_ = weight->shape();
    groups_ = node.attributes.get_int("group", 1);
    if (groups_ < 1 || weight_shape_[0] % groups_ != 0) invalid(node, "group does not divide the output channels");
    if (const Tensor* bias = constant_input(node, graph, 2)) {
      bias_ = *bias;
    } else if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      unsupported(node, "the bias must be a constant");
    }
    ops::require_finite(node, *weight, "weight");
    ops::require_finite(node, bias_, "bias");
    // One tile array per group: [out_per_group, in_per_group * kernel].
    auto& tiles = shared[node.inputs[1]];
    owner_ = tiles.empty();
    const std::int64_t rows = weight_shape_[0] / groups_, width = weight->size() / weight_shape_[0];
    for (std::int64_t g = 0; owner_ && g < groups_; ++g) {
      const std::string name = groups_ == 1 ? node.module : node.module + ".group" + std::to_string(g);
      tiles.push_back(std::make_shared<AnalogTileArray>(rows, width, config, seed, name));
      Tensor block({rows, width});
      std::copy(weight->data() + g * rows * width, weight->data() + (g + 1) * rows * width, block.data());
      tiles.back()->set_weights(block);
    }
    tiles_ = tiles;
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override {
    const Tensor& x = ops::input(inputs, 0, node_).tensor;
    const ops::ConvShape shape = ops::conv_shape(node_, x.shape(), weight_shape_);
    Tensor output(ops::conv_output_shape(shape));
    // In chunks of samples, like the float convolution: a tile's noise depends on the row's
    // index in its stream, not on how rows are split over calls, so the result is the same.
    const std::int64_t chunk = ops::conv_chunk_samples(shape);
    for (std::int64_t g = 0; g < groups_; ++g) {
      AnalogTileArray& tiles = *tiles_[static_cast<std::size_t>(g)];
      for (std::int64_t first = 0; first < shape.batch; first += chunk) {
        const std::int64_t samples = std::min(chunk, shape.batch - first);
        ops::scatter_conv_rows(tiles.forward(ops::conv_patches(x, shape, g, first, samples)), shape, g, output, first,
                               samples);
      }
    }
    if (bias_.size() > 0) ops::add_channel_bias(output, bias_);
    return {Value::floats(std::move(output))};
  }
  void program() override {
    for (auto& t : tiles_) {
      if (owner_) t->program();
    }
  }
  void set_backend(simulator::Backend backend) override {
    for (auto& t : tiles_) {
      if (owner_) t->set_backend(backend);
    }
  }
  void drift(double t) override {
    for (auto& tiles : tiles_) {
      if (owner_) tiles->drift(t);
    }
  }

 private:
  const Node& node_;
  Shape weight_shape_;
  std::int64_t groups_ = 1;
  Tensor bias_;
  std::vector<std::shared_ptr<AnalogTileArray>> tiles_;
  bool owner_ = false;
};

// Which layer of its module a recurrent node is (torch exports an nn.LSTM of several layers as
// one node per layer, in order): its tiles are named like torch's parameters, weight_ih_l<k>.
std::int64_t recurrent_layer_index(const Node& node, const Graph& graph) {
  std::int64_t index = 0;
  for (const Node& other : graph.nodes) {
    if (&other == &node) return index;
    if (other.module == node.module && other.call == node.call && other.op_type == node.op_type) ++index;
  }
  return index;
}

// RNN/GRU/LSTM with W and R on tile arrays, one per direction each (aihwkit's AnalogRNN:
// the input and the recurrent matrices of every layer and direction on tiles of their own);
// biases, gates and state stay digital.
class AnalogRecurrent final : public Operator, private ops::RecurrentProducts {
 public:
  AnalogRecurrent(const Node& node, const Graph& graph, const parameters::InferenceRPUConfig& config,
                  std::uint64_t seed, SharedTiles& shared)
      : layer_(node) {
    const Tensor* w = constant_input(node, graph, 1);
    const Tensor* r = constant_input(node, graph, 2);
    if (w == nullptr || r == nullptr || w->rank() != 3 || r->rank() != 3) {
      unsupported(node, "an analog recurrent layer needs constant W and R weights");
    }
    ops::require_finite(node, *w, "W");
    ops::require_finite(node, *r, "R");
    const std::string layer = std::to_string(recurrent_layer_index(node, graph));
    const bool reverse_only = node.attributes.get_string("direction", "forward") == "reverse";
    for (const auto& [weight, kind] : {std::pair{w, "ih"}, std::pair{r, "hh"}}) {
      auto& tiles = shared[node.inputs[kind == std::string("ih") ? 1 : 2]];
      owner_ = tiles.empty();
      for (std::int64_t d = 0; owner_ && d < weight->dim(0); ++d) {
        const bool reverse = d == 1 || reverse_only;
        const std::string name = node.module + ".weight_" + kind + "_l" + layer + (reverse ? "_reverse" : "");
        tiles.push_back(std::make_shared<AnalogTileArray>(weight->dim(1), weight->dim(2), config, seed, name));
        Tensor block({weight->dim(1), weight->dim(2)});
        std::copy(weight->data() + d * block.size(), weight->data() + (d + 1) * block.size(), block.data());
        tiles.back()->set_weights(block);
      }
      (kind == std::string("ih") ? input_tiles_ : recurrent_tiles_) = tiles;
    }
  }

  std::vector<Value> run(std::span<const Value* const> inputs) override { return layer_.run(inputs, *this); }
  void program() override { for_each_owned([](AnalogTileArray& t) { t.program(); }); }
  void set_backend(simulator::Backend backend) override {
    for_each_owned([backend](AnalogTileArray& t) { t.set_backend(backend); });
  }
  void drift(double t_inference) override {
    for_each_owned([t_inference](AnalogTileArray& t) { t.drift(t_inference); });
  }

 private:
  Tensor input_product(int direction, const Tensor& rows, const Tensor&) override {
    return input_tiles_.at(static_cast<std::size_t>(direction))->forward(rows);
  }
  Tensor recurrent_product(int direction, const Tensor& h, const Tensor&) override {
    return recurrent_tiles_.at(static_cast<std::size_t>(direction))->forward(h);
  }
  template <class F>
  void for_each_owned(F f) {
    if (!owner_) return;
    for (auto* tiles : {&input_tiles_, &recurrent_tiles_}) {
      for (auto& t : *tiles) f(*t);
    }
  }

  ops::Recurrent layer_;
  std::vector<std::shared_ptr<AnalogTileArray>> input_tiles_;
  std::vector<std::shared_ptr<AnalogTileArray>> recurrent_tiles_;
  bool owner_ = false;
};

}  // namespace

std::unique_ptr<Operator> make_analog_layer(const Node& node, const Graph& graph,
                                            const parameters::InferenceRPUConfig& config, std::uint64_t seed,
                                            SharedTiles& shared) {
  if (node.op_type == "Gemm" || node.op_type == "MatMul") {
    return std::make_unique<AnalogLinear>(node, graph, config, seed, shared);
  }
  if (node.op_type == "Conv") return std::make_unique<AnalogConv>(node, graph, config, seed, shared);
  if (node.op_type == "LSTM" || node.op_type == "GRU" || node.op_type == "RNN") {
    return std::make_unique<AnalogRecurrent>(node, graph, config, seed, shared);
  }
  ops::unsupported(node, "has no analog implementation");
}

}  // namespace tessera::nn
