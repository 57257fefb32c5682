// A value flowing through a model graph: a tensor plus its ONNX element type. Integer and
// boolean tensors (shapes, indices, masks) are carried in the float buffer; they are exact up
// to 2^24, far beyond any shape or index a model on this simulator uses, and larger values
// (such as INT64_MAX meaning "to the end" in Slice) saturate when read back as integers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tessera/simulator/tensor.hpp"

namespace tessera::nn {

using simulator::Shape;
using simulator::Tensor;

enum class DataType { kFloat, kInt64, kBool };

std::string_view data_type_name(DataType type);

struct Value {
  DataType type = DataType::kFloat;
  Tensor tensor;

  static Value floats(Tensor tensor) { return {DataType::kFloat, std::move(tensor)}; }
  static Value ints(const std::vector<std::int64_t>& values, Shape shape);
  static Value ints(const std::vector<std::int64_t>& values) {
    return ints(values, Shape{static_cast<std::int64_t>(values.size())});
  }
  /// The elements as integers (saturating at the int64 range).
  std::vector<std::int64_t> to_ints() const;
};

/// float -> int64, saturating (INT64_MAX read from a float buffer stays "very large").
std::int64_t saturating_int(float value);

}  // namespace tessera::nn
