// A model: a graph of ONNX nodes grouped into named modules (the dotted names of a PyTorch
// state dict, e.g. "features.0"), executed on batches. Converters replace the operators of
// chosen modules (analog tiles, quantized layers) and keep the graph.
//   nn::Model model = nn::load_onnx("fmnist_cnn.onnx");
//   Tensor logits = model.forward(images);            // [N, 1, 28, 28] -> [N, 10]
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tessera/nn/conversion_plan.hpp"
#include "tessera/nn/graph.hpp"
#include "tessera/nn/operator.hpp"
#include "tessera/simulator/call_lock.hpp"

namespace tessera::nn {

/// Per-channel mean and standard deviation of a value, as a BatchNorm's shift and |scale| say
/// its output is distributed (N(beta, gamma^2), Nagel et al. 2019).
struct ChannelStatistics {
  std::vector<double> mean;
  std::vector<double> std;
};

struct Graph {
  std::string source;                         ///< file name, for messages
  int opset = 13;                             ///< default-domain opset
  std::vector<Node> nodes;                    ///< topological order
  std::map<std::string, Value> initializers;  ///< constant tensors by name (weights)
  std::set<std::string> constants;            ///< initializers folded from Constant nodes: not parameters
  std::vector<std::string> inputs;            ///< graph inputs that are not initializers
  std::vector<DataType> input_types;          ///< element type of each input (float when the file omits it)
  std::vector<std::string> outputs;           ///< graph outputs
  std::map<std::string, int> ranks;           ///< ranks of values where the file or shape inference knows them
  /// Values a folded BatchNorm produced (now its layer's output), with the distribution the
  /// BatchNorm gave them: what analytical bias correction takes as the next layer's input.
  std::map<std::string, ChannelStatistics> batch_norm_statistics;
};

/// One named module: the nodes that belong to it and what it holds.
struct ModuleInfo {
  std::string name;                  ///< dotted name, e.g. "features.0"
  std::string type;                  ///< PyTorch-style type: Linear, Conv2d, ReLU, BatchNorm2d, ...
  std::vector<std::size_t> nodes;    ///< indices into graph().nodes
  std::vector<std::string> weights;  ///< initializer names it uses (weight first)
  std::int64_t parameter_count = 0;  ///< elements in those initializers
};

/// Threads: a model may be shared; runs and lifecycle calls (program, drift, calibration,
/// conversion of its layers) are serialised (simulator/call_lock.hpp).
class Model {
 public:
  /// Checks the graph (every input defined before use) and builds its operators; throws
  /// ModelError / UnsupportedError naming the node.
  explicit Model(Graph graph);
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  const Graph& graph() const { return graph_; }
  /// Modules in order of first appearance.
  const std::vector<ModuleInfo>& modules() const { return modules_; }
  const ModuleInfo* find_module(const std::string& name) const;
  /// What each module became and which rule decided (a loaded model: every module unchanged).
  const ConversionPlan& plan() const { return plan_; }
  /// Another model with the same graph and plan, its calibrated encodings carried over.
  Model copy() const;

  /// Called after each node with its index and outputs (e.g. to compare layer outputs).
  using NodeObserver = std::function<void(std::size_t node, const std::vector<Value>& outputs)>;

  /// Runs the graph: one value per graph input, returns one per graph output.
  std::vector<Value> run(const std::vector<Value>& inputs, const NodeObserver& observe = {});
  /// Single float input and first output.
  Tensor forward(const Tensor& input);
  /// Single input of the element type the graph declares (float activations, integer indices
  /// such as token ids, bool masks) and first output. Throws ModelError naming the input and
  /// both types when they differ.
  Tensor forward(const Value& input);

  /// Programs every analog layer (programming noise drawn from the conversion seed).
  void program();
  /// Runs the analog layers' tiles on `backend` (simulator::Backend::cuda needs a CUDA device;
  /// throws naming the reason otherwise). Other layers compute on the CPU.
  void set_backend(simulator::Backend backend);
  /// Drifts every analog layer to t_inference seconds after programming (programs first).
  void drift(double t_inference);
  /// Calibration of every quantizer that observes activations (AIMET's compute_encodings):
  /// `feed` runs the calibration batches through the model.
  void compute_encodings(const std::function<void(Model&)>& feed);

  /// After compute_encodings: quantized Gemm/MatMul/Conv layers with 8-bit weights and an 8-bit
  /// input encoding switch from fake quantization to the int8 kernel (uint8 x int8 -> int32,
  /// requantized), as torch.ao's convert() follows calibration. The input encoding is the
  /// layer's own input quantizer or, without one, the output quantizer of the layer that
  /// produced its input (through Flatten, Reshape, MaxPool, Relu, ...): a W8A8 model runs
  /// integer end to end from its first quantized input on. Later conversions keep the switch.
  /// Returns the modules switched.
  std::vector<std::string> use_integer_kernels();

  /// Swaps in another implementation of a node (conversion).
  void replace_operator(std::size_t node, std::unique_ptr<Operator> op);
  /// Every operator implementing a node.
  Operator& operator_of(std::size_t node) { return *operators_[node]; }
  const Operator& operator_of(std::size_t node) const { return *operators_[node]; }

 private:
  friend Model apply_plan(Model&& model, const ConversionPlan& plan);

  Graph graph_;
  ConversionPlan plan_;
  std::vector<std::unique_ptr<Operator>> operators_;
  std::vector<ModuleInfo> modules_;
  std::vector<std::vector<std::string>> released_after_;  ///< values no later node reads
  bool integer_kernels_ = false;  ///< use_integer_kernels was called: apply_plan re-propagates encodings
  simulator::CallLock lock_;      ///< serialises runs and lifecycle calls from several threads
};

}  // namespace tessera::nn
