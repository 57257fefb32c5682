// Builders of converted layers (internal to conversion.cpp).
#pragma once

#include <memory>

#include "tessera/nn/model.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::nn {

/// An analog implementation of a Gemm, constant-weight MatMul or Conv node. Throws
/// UnsupportedError for layouts it cannot map (e.g. transA, a non-constant weight).
std::unique_ptr<Operator> make_analog_layer(const Node& node, const Graph& graph,
                                            const parameters::InferenceRPUConfig& config, std::uint64_t seed);

struct QuantizedNodeConfig {
  const parameters::ActivationQuantConfig* input = nullptr;   ///< quantize input 0 (first node)
  const parameters::WeightQuantConfig* weight = nullptr;      ///< quantize the constant weight
  const parameters::ActivationQuantConfig* output = nullptr;  ///< quantize output 0 (last node)
};

/// Wraps a node's float operator with fake quantization of its input, weight and output.
std::unique_ptr<Operator> make_quantized_layer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner,
                                               const QuantizedNodeConfig& config);

}  // namespace tessera::nn
