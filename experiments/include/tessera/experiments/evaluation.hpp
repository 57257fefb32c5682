// Metrics of a classifier over a labelled data set, in batches:
//   top1, top5, top<k>  fraction of samples whose label is among the k largest outputs
//   loss                mean cross-entropy of the outputs taken as logits (nats)
//   snr                 per converted module, 10 log10(sum y_float^2 / sum (y - y_float)^2) in dB:
//                       the module's output in the simulated model against the float model's,
//                       errors of earlier layers included; columns "snr_db.<module>"
// (The sweep runner adds layer_snr: the same with only that module simulated, by evaluating
// once more per module; columns "layer_snr_db.<module>".)
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/nn/model.hpp"

namespace tessera::experiments {

using MetricValues = std::vector<std::pair<std::string, double>>;

struct EvaluationRequest {
  std::vector<std::string> metrics{"top1"};
  std::int64_t batch_size = 256;
  nn::Model* reference = nullptr;        ///< the float model, for snr
  std::vector<std::string> snr_modules;  ///< modules whose output SNR is reported
  /// Asked before every batch; true stops the evaluation with SweepInterrupted.
  std::function<bool()> should_stop{};
};

/// Thrown when a sweep is asked to stop (Ctrl-C in Python): finished runs are in the journal,
/// the interrupted one is not, and a rerun resumes.
class SweepInterrupted : public std::runtime_error {
 public:
  SweepInterrupted() : std::runtime_error("the sweep was interrupted; run it again to resume") {}
};

/// Runs `model` over `data`; values in the order of `request.metrics` (snr expands to one per
/// module). Throws std::invalid_argument for outputs that are not [N, classes] or labels out
/// of range.
MetricValues evaluate(nn::Model& model, const Dataset& data, const EvaluationRequest& request);

/// Samples [first, first + count) of a batch-major tensor.
simulator::Tensor batch_of(const simulator::Tensor& samples, std::int64_t first, std::int64_t count);
/// A batch as the model's input: floats, or integers (token ids) where the graph's input is an
/// integer tensor; throws std::invalid_argument naming the input when the data is not integral.
nn::Value model_input(const nn::Model& model, simulator::Tensor batch);

}  // namespace tessera::experiments
