// RNN, GRU and LSTM (ONNX semantics) with their two weight products pluggable: the float
// operator multiplies by the node's W and R inputs, the analog layer by tile arrays holding them.
#pragma once

#include <memory>
#include <vector>

#include "ops/op_support.hpp"

namespace tessera::nn::ops {

/// The weight products of a recurrent layer, per direction d (W and R as the node's inputs,
/// [directions, gates * hidden, in] and [directions, gates * hidden, hidden]).
class RecurrentProducts {
 public:
  virtual ~RecurrentProducts() = default;
  /// rows [n, in] times W_d^T: [n, gates * hidden].
  virtual Tensor input_product(int direction, const Tensor& rows, const Tensor& w) = 0;
  /// state [batch, hidden] times R_d^T: [batch, gates * hidden].
  virtual Tensor recurrent_product(int direction, const Tensor& h, const Tensor& r) = 0;
};

/// One RNN/GRU/LSTM node: attributes checked at construction (ModelError/UnsupportedError
/// naming the node), then run on inputs with the given products.
class Recurrent {
 public:
  explicit Recurrent(const Node& node);
  std::vector<Value> run(Inputs inputs, RecurrentProducts& products) const;

 private:
  class Cell;
  std::shared_ptr<const Cell> cell_;
};

}  // namespace tessera::nn::ops
