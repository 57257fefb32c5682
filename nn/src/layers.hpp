// Builders of converted layers (internal to conversion.cpp).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tessera/nn/model.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/tiles/tile_array.hpp"

namespace tessera::nn {

/// The tile arrays of one module by the weight they hold: nodes that read the same weight (a
/// module torch calls twice) share one crossbar, programmed once, whose read noise continues
/// from one call to the next.
using SharedTiles = std::map<std::string, std::vector<std::shared_ptr<tiles::AnalogTileArray>>>;

/// Whether a node reads a constant weight a converted layer can hold: Gemm/MatMul/Conv input 1,
/// LSTM/GRU/RNN W and R, the table of a Gather (Embedding).
std::vector<std::size_t> weight_inputs(const Node& node, const Graph& graph);

/// An analog implementation of a Gemm, constant-weight MatMul, Conv or recurrent node. Throws
/// UnsupportedError for layouts it cannot map (e.g. transA, a non-constant weight).
std::unique_ptr<Operator> make_analog_layer(const Node& node, const Graph& graph,
                                            const parameters::InferenceRPUConfig& config, std::uint64_t seed,
                                            SharedTiles& shared);

struct QuantizedNodeConfig {
  std::unique_ptr<simulator::QuantizeDequantize> input;   ///< quantizes input 0 (first node of a call)
  std::unique_ptr<simulator::QuantizeDequantize> output;  ///< quantizes output 0 (last node of a call)
  const parameters::WeightQuantConfig* weight = nullptr;  ///< quantizes the constant weights
};

/// Wraps a node's operator (float or analog) with fake quantization of its input, weights and
/// output.
std::unique_ptr<Operator> make_quantized_layer(const Node& node, const Graph& graph, std::unique_ptr<Operator> inner,
                                               QuantizedNodeConfig config);

/// Sets the encodings of `to`'s quantizers from `from`'s calibrated ones that quantize the same
/// tensor in the same role (a layer rebuilt by a later conversion keeps its calibration).
void carry_encodings(const Operator& from, Operator& to);

/// An activation quantizer for `config`, or null when it has no bits.
std::unique_ptr<simulator::QuantizeDequantize> activation_quantizer(const parameters::ActivationQuantConfig* config);

}  // namespace tessera::nn
