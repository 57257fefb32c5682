// An executable operator: built once from a node (attributes checked then), run per batch.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tessera/nn/graph.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/backend.hpp"

namespace tessera::nn {

/// What a quantizer of a converted layer quantizes.
enum class EncodingRole { input, weight, output };

/// A quantizer attached to a named tensor of the graph (for saving and loading encodings).
struct TensorEncoding {
  std::string tensor;  ///< value or initializer name
  EncodingRole role = EncodingRole::output;
  simulator::AffineQuantizer* quantizer = nullptr;
  bool is_parameter() const { return role == EncodingRole::weight; }  ///< param_encodings, not activation
};

class Operator {
 public:
  virtual ~Operator() = default;
  /// inputs[i] is null for an omitted optional input. Throws ModelError on bad shapes.
  virtual std::vector<Value> run(std::span<const Value* const> inputs) = 0;

  // Lifecycle hooks a Model forwards to every operator; float operators ignore them.
  /// Analog layers: map weights to conductances with programming noise.
  virtual void program() {}
  /// Analog layers: drift and read noise t_inference seconds after programming.
  virtual void drift(double /*t_inference*/) {}
  /// Analog layers: run their tiles on this backend (throws when it is not available).
  virtual void set_backend(simulator::Backend /*backend*/) {}
  /// Quantized layers: observe data to fix activation encodings (between begin and end).
  virtual void begin_calibration() {}
  virtual void end_calibration() {}
  /// Quantized layers: the quantizers they apply and the tensors those quantize. The pointers
  /// are mutable so that a loader holding the Model non-const can set encodings (then it calls
  /// encodings_changed).
  virtual void list_encodings(std::vector<TensorEncoding>& /*out*/) const {}
  /// Quantized layers: the encodings listed were set from outside; refresh what derives from them.
  virtual void encodings_changed() {}
  /// Quantized layers: run on integer kernels from now on when they can (8-bit weights, an
  /// 8-bit per-tensor input encoding, calibrated); true if this one does. The input encoding is
  /// the layer's own input quantizer, else `input_encoding`: the quantizer whose grid the input
  /// value already lies on (its producer's output quantizer), or null.
  virtual bool use_integer_kernels(const simulator::AffineQuantizer* /*input_encoding*/) { return false; }
};

/// Builds the float operator for a node of the given opset. Throws UnsupportedError for an op
/// type or attribute value that is not implemented, ModelError for an invalid one.
std::unique_ptr<Operator> make_operator(const Node& node, int opset);

/// The op types make_operator knows (sorted).
std::vector<std::string_view> supported_op_types();

}  // namespace tessera::nn
