#include "post_training.hpp"

#include <algorithm>

#include "graph_queries.hpp"
#include "tessera/nn/errors.hpp"

namespace tessera::nn {

void check_calibration_data(const Model& model, const Tensor& data, std::int64_t batch_size, const std::string& pass) {
  const std::string& source = model.graph().source;
  if (data.rank() < 1 || data.dim(0) == 0) throw ModelError(source + ": " + pass + " needs calibration data");
  if (batch_size < 1) throw ModelError(source + ": " + pass + ": batch_size must be >= 1");
}

void for_each_batch(const Tensor& data, std::int64_t batch_size, const std::function<void(const Tensor&)>& run) {
  const std::int64_t per_sample = data.size() / data.dim(0);
  for (std::int64_t first = 0; first < data.dim(0); first += batch_size) {
    const std::int64_t count = std::min(batch_size, data.dim(0) - first);
    Shape shape = data.shape();
    shape[0] = count;
    const auto begin = data.values().begin() + first * per_sample;
    run(Tensor(shape, std::vector<float>(begin, begin + count * per_sample)));
  }
}

std::vector<std::size_t> quantized_weight_layers(const Model& model, const std::string& pass) {
  const Graph& graph = model.graph();
  std::vector<std::size_t> layers;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    const PlannedModule* entry = model.plan().find(node.module);
    if (entry == nullptr || !entry->quantizes_weights() || entry->analog) continue;
    const Tensor* weight = constant_input(graph, node, 1);
    if ((node.op_type == "Conv" || node.op_type == "Gemm") && weight != nullptr && weight->rank() >= 2) {
      layers.push_back(n);
    }
  }
  if (layers.empty()) throw ModelError(graph.source + ": " + pass + ": the plan quantizes no Conv or Gemm weights");
  return layers;
}

const simulator::AffineQuantizer* weight_quantizer(const Model& model, std::size_t n) {
  std::vector<TensorEncoding> encodings;
  model.operator_of(n).list_encodings(encodings);
  for (const TensorEncoding& e : encodings) {
    if (e.role == EncodingRole::weight && e.tensor == model.graph().nodes[n].inputs[1]) return e.quantizer;
  }
  return nullptr;
}

}  // namespace tessera::nn
