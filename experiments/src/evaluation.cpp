#include "tessera/experiments/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace tessera::experiments {
using simulator::Tensor;

namespace {

int top_k_of(const std::string& metric) { return metric.starts_with("top") ? std::stoi(metric.substr(3)) : 0; }

// The node whose first output is a module's output (its last node) and that value's name. The
// reference model is matched by value name, not by node index: graph passes (BatchNorm folding)
// remove nodes, and the folded layer outputs the value its BatchNorm did.
std::pair<std::size_t, std::string> module_output(const nn::Model& model, const std::string& name) {
  const nn::ModuleInfo* module = model.find_module(name);
  if (module == nullptr || module->nodes.empty()) throw std::invalid_argument("snr: no module named '" + name + "'");
  const nn::Node& last = model.graph().nodes[module->nodes.back()];
  if (last.outputs.empty()) throw std::invalid_argument("snr: module '" + name + "' has no output");
  return {module->nodes.back(), last.outputs.front()};
}

struct SnrSums {
  double signal = 0.0;
  double noise = 0.0;
};

}  // namespace

Tensor batch_of(const Tensor& samples, std::int64_t first, std::int64_t count) {
  simulator::Shape shape = samples.shape();
  shape[0] = count;
  const std::int64_t per_sample = samples.dim(0) == 0 ? 0 : samples.size() / samples.dim(0);
  Tensor batch(shape);
  std::copy(samples.data() + first * per_sample, samples.data() + (first + count) * per_sample, batch.data());
  return batch;
}

nn::Value model_input(const nn::Model& model, Tensor batch) {
  const nn::DataType type = model.graph().input_types.empty() ? nn::DataType::kFloat : model.graph().input_types[0];
  if (type == nn::DataType::kFloat) return nn::Value::floats(std::move(batch));
  for (std::int64_t k = 0; k < batch.size(); ++k) {
    if (batch[k] != std::floor(batch[k])) {
      throw std::invalid_argument(model.graph().source + ": input '" + model.graph().inputs[0] + "' takes " +
                                  std::string(nn::data_type_name(type)) + " values (indices), but the data holds " +
                                  std::to_string(batch[k]) +
                                  " (store token ids as an integer .npy without "
                                  "normalization)");
    }
  }
  return nn::Value{type, std::move(batch)};
}

MetricValues evaluate(nn::Model& model, const Dataset& data, const EvaluationRequest& request) {
  const std::int64_t n = data.images.dim(0);
  if (n == 0) throw std::invalid_argument("the data set is empty");
  const bool snr = std::find(request.metrics.begin(), request.metrics.end(), "snr") != request.metrics.end() &&
                   request.reference != nullptr;
  std::map<std::size_t, std::string> observed;                     // output node -> its value
  std::vector<std::pair<std::string, std::string>> module_values;  // (module, its output value), in request order
  std::map<std::string, std::string> module_of_value;
  for (std::size_t k = 0; k < request.snr_modules.size() && snr; ++k) {
    const auto [node, value] = module_output(model, request.snr_modules[k]);
    observed[node] = value;
    module_values.emplace_back(request.snr_modules[k], value);
    module_of_value.emplace(value, request.snr_modules[k]);
  }
  std::map<std::string, SnrSums> sums;              // by value
  std::map<std::string, Tensor> reference_outputs;  // by value
  std::map<int, std::int64_t> hits;                 // by k
  for (const std::string& metric : request.metrics) {
    if (int k = top_k_of(metric)) hits[k] = 0;
  }
  double loss_sum = 0.0;

  for (std::int64_t first = 0; first < n; first += request.batch_size) {
    if (request.should_stop && request.should_stop()) throw SweepInterrupted();
    const std::int64_t count = std::min(request.batch_size, n - first);
    const Tensor batch = batch_of(data.images, first, count);
    if (snr) {
      reference_outputs.clear();
      const nn::Graph& graph = request.reference->graph();
      request.reference->run({model_input(*request.reference, batch)},
                             [&](std::size_t node, const std::vector<nn::Value>& out) {
                               const auto& names = graph.nodes[node].outputs;
                               for (std::size_t k = 0; k < names.size() && k < out.size(); ++k) {
                                 if (module_of_value.contains(names[k])) reference_outputs[names[k]] = out[k].tensor;
                               }
                             });
    }
    const std::vector<nn::Value> outputs =
        model.run({model_input(model, batch)}, [&](std::size_t node, const std::vector<nn::Value>& out) {
          const auto value = observed.find(node);
          if (value == observed.end() || out.empty()) return;
          const Tensor& y = out.front().tensor;
          const auto reference = reference_outputs.find(value->second);
          if (reference == reference_outputs.end() || reference->second.shape() != y.shape()) {
            throw std::invalid_argument("snr: the float reference has no value '" + value->second +
                                        "' of the shape module '" + module_of_value.at(value->second) + "' outputs (" +
                                        simulator::shape_to_string(y.shape()) +
                                        "); the reference must be the float model after the same graph passes");
          }
          const Tensor& y_float = reference->second;
          SnrSums& s = sums[value->second];
          for (std::int64_t i = 0; i < y.size(); ++i) {
            const double d = static_cast<double>(y[i]) - y_float[i];
            s.signal += static_cast<double>(y_float[i]) * y_float[i];
            s.noise += d * d;
          }
        });
    const Tensor& logits = outputs.front().tensor;
    if (logits.rank() != 2 || logits.dim(0) != count) {
      throw std::invalid_argument("the model's output has shape " + simulator::shape_to_string(logits.shape()) +
                                  "; classification metrics need [batch, classes]");
    }
    const std::int64_t classes = logits.dim(1);
    for (std::int64_t b = 0; b < count; ++b) {
      const std::int64_t label = data.labels[static_cast<std::size_t>(first + b)];
      if (label < 0 || label >= classes) {
        throw std::invalid_argument("label " + std::to_string(label) + " of sample " + std::to_string(first + b) +
                                    " is not one of the model's " + std::to_string(classes) + " classes");
      }
      const float* row = logits.data() + b * classes;
      const float target = row[label];
      // Rank of the label: outputs strictly above it, ties counted in the label's favour.
      // A NaN output is never a hit.
      std::int64_t above = 0;
      for (std::int64_t c = 0; c < classes; ++c) above += row[c] > target;
      for (auto& [k, count_k] : hits) count_k += !std::isnan(target) && above < k;
      const float max = *std::max_element(row, row + classes);
      double total = 0.0;
      for (std::int64_t c = 0; c < classes; ++c) total += std::exp(static_cast<double>(row[c]) - max);
      loss_sum += std::log(total) + max - target;
    }
  }

  MetricValues values;
  for (const std::string& metric : request.metrics) {
    if (int k = top_k_of(metric)) {
      values.emplace_back(metric, static_cast<double>(hits[k]) / static_cast<double>(n));
    } else if (metric == "loss") {
      values.emplace_back(metric, loss_sum / static_cast<double>(n));
    } else if (metric == "snr" && snr) {
      for (const auto& [module, value] : module_values) {
        const SnrSums& s = sums[value];
        const double db =
            s.noise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(s.signal / s.noise);
        values.emplace_back("snr_db." + module, db);
      }
    }
  }
  return values;
}

}  // namespace tessera::experiments
