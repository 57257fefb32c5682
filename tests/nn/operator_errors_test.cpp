// Operators refuse inconsistent inputs and attributes with a message naming the node.
#include <gtest/gtest.h>

#include <limits>

#include "expect_error.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/model.hpp"

namespace tessera::nn {
namespace {

using tessera::testing::expect_error;

/// A one-node model: inputs "a", "b"... (as many as given), output "y".
std::vector<Value> run_node(const std::string& op, std::vector<Value> inputs, Attributes attributes = {},
                            int opset = 13) {
  Graph graph;
  graph.source = "test.onnx";
  graph.opset = opset;
  graph.outputs = {"y"};
  Node node{"node_0", op, {}, {"y"}, std::move(attributes), ""};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string name(1, static_cast<char>('a' + i));
    graph.inputs.push_back(name);
    node.inputs.push_back(name);
  }
  graph.nodes.push_back(std::move(node));
  Model model(std::move(graph));
  return model.run(inputs);
}

Value floats(Shape shape) { return Value::floats(Tensor(std::move(shape), 1.0f)); }

TEST(OperatorErrors, BroadcastMismatch) {
  expect_error<ModelError>(
      [] {
        run_node("Add", {floats({2, 3}), floats({4})});
      },
      "node 'node_0' (Add): cannot broadcast shapes [2, 3] and [4]");
}

TEST(OperatorErrors, MatMulInnerDimensions) {
  expect_error<ModelError>(
      [] {
        run_node("MatMul", {floats({2, 3}), floats({4, 5})});
      },
      "node 'node_0' (MatMul): cannot multiply [2, 3] by [4, 5]");
}

TEST(OperatorErrors, ReshapeToAnotherElementCount) {
  expect_error<ModelError>(
      [] {
        run_node("Reshape", {floats({2, 3}), Value::ints({4, 2})});
      },
      "node 'node_0' (Reshape): cannot reshape [2, 3] to [4, 2]");
  expect_error<ModelError>(
      [] {
        run_node("Reshape", {floats({2, 3}), Value::ints({-1, -1})});
      },
      "at most one -1 is allowed in the shape");
}

TEST(OperatorErrors, ConcatShapesOutsideTheAxis) {
  Attributes axis;
  axis.set("axis", std::int64_t{1});
  expect_error<ModelError>(
      [&] {
        run_node("Concat", {floats({2, 3}), floats({3, 3})}, axis);
      },
      "inputs [2, 3] and [3, 3] differ outside the concat axis");
}

TEST(OperatorErrors, GatherIndexOutOfRange) {
  expect_error<ModelError>(
      [] {
        run_node("Gather", {floats({3, 2}), Value::ints({5})});
      },
      "index 5 is out of range for axis length 3");
}

TEST(OperatorErrors, AxisOutOfRange) {
  Attributes axis;
  axis.set("axis", std::int64_t{4});
  expect_error<ModelError>([&] { run_node("Softmax", {floats({2, 3})}, axis); }, "axis 4 is out of range for rank 2");
}

TEST(OperatorErrors, ConvWindowLargerThanTheInput) {
  expect_error<ModelError>(
      [] {
        run_node("Conv", {floats({1, 1, 2, 2}), floats({1, 1, 3, 3})});
      },
      "the window is larger than the padded input along spatial axis 0");
  Attributes pad;
  pad.set("auto_pad", std::string("SAME"));
  expect_error<ModelError>(
      [&] {
        run_node("Conv", {floats({1, 1, 4, 4}), floats({1, 1, 3, 3})}, pad);
      },
      "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got 'SAME'");
}

TEST(OperatorErrors, PoolingNeedsItsKernel) {
  expect_error<ModelError>(
      [] {
        run_node("MaxPool", {floats({1, 1, 4, 4})});
      },
      "node 'node_0' (MaxPool): kernel_shape is required");
}

TEST(OperatorErrors, BatchNormStatisticsPerChannel) {
  expect_error<ModelError>(
      [] {
        run_node("BatchNormalization", {floats({1, 3, 2, 2}), floats({3}), floats({3}), floats({2}), floats({3})});
      },
      "scale, B, mean and var must have one value per channel of [1, 3, 2, 2]");
}

TEST(OperatorErrors, MissingRequiredInput) {
  expect_error<ModelError>([] { run_node("Gemm", {floats({2, 2})}); }, "input 1 is required but missing");
}

TEST(OperatorErrors, WrongAttributeType) {
  Attributes alpha;
  alpha.set("alpha", std::string("big"));
  expect_error<ModelError>([&] { run_node("LeakyRelu", {floats({2})}, alpha); },
                           "node 'node_0' (LeakyRelu): attribute 'alpha' should be a float");
}

TEST(OperatorErrors, UnsupportedAttributeValues) {
  Attributes mode;
  mode.set("mode", std::string("wrap"));
  expect_error<UnsupportedError>([&] { run_node("Pad", {floats({2}), Value::ints({1, 1})}, mode); }, "pad mode 'wrap'");
  Attributes to;
  to.set("to", std::int64_t{11});
  expect_error<UnsupportedError>([&] { run_node("Cast", {floats({2})}, to); }, "cast to element type 11");
}

TEST(OperatorErrors, RecurrentLayersOnAnEmptyBatchGiveEmptyOutputs) {
  // Found by the onnx_run fuzzer (tests/fuzz/corpus/onnx_run/recurrent-empty-batch): batch 0
  // divided the sequence length by zero.
  Attributes hidden;
  hidden.set("hidden_size", std::int64_t{4});
  for (const char* op : {"LSTM", "GRU", "RNN"}) {
    const std::int64_t gates = std::string(op) == "LSTM" ? 4 : std::string(op) == "GRU" ? 3 : 1;
    const std::vector<Value> outputs =
        run_node(op, {floats({2, 0, 3}), floats({1, gates * 4, 3}), floats({1, gates * 4, 4})}, hidden);
    ASSERT_FALSE(outputs.empty()) << op;
    EXPECT_EQ(outputs[0].tensor.shape(), (Shape{2, 1, 0, 4})) << op;
  }
}

TEST(OperatorErrors, RecurrentLayersCheckAttributesAndShapes) {
  // LSTM with X [seq 2, batch 1, input 3]; W and R sized for hidden_size 4 unless said.
  const auto lstm = [](Attributes a, Shape w, Shape r) {
    run_node("LSTM", {floats({2, 1, 3}), floats(std::move(w)), floats(std::move(r))}, std::move(a));
  };
  Attributes hidden;
  hidden.set("hidden_size", std::int64_t{4});
  expect_error<ModelError>([&] { lstm({}, {1, 16, 3}, {1, 16, 4}); }, "(LSTM): hidden_size must be given and >= 1");
  Attributes sideways = hidden;
  sideways.set("direction", std::string("sideways"));
  expect_error<ModelError>(
      [&] {
        lstm(sideways, {1, 16, 3}, {1, 16, 4});
      },
      "direction must be forward, reverse or bidirectional, got 'sideways'");
  expect_error<ModelError>(
      [&] {
        lstm(hidden, {1, 12, 3}, {1, 16, 4});
      },
      "W must have shape [1, 16, 3], got [1, 12, 3]");
  expect_error<ModelError>(
      [&] {
        lstm(hidden, {1, 16, 3}, {1, 16, 3});
      },
      "R must have shape [1, 16, 4], got [1, 16, 3]");
  Attributes two = hidden;
  two.set("activations", std::vector<std::string>{"Sigmoid", "Tanh"});
  expect_error<ModelError>([&] { lstm(two, {1, 16, 3}, {1, 16, 4}); }, "expects 3 activations, got 2");
  Attributes unknown = hidden;
  unknown.set("activations", std::vector<std::string>{"Sigmoid", "Tanh", "Swish"});
  expect_error<UnsupportedError>(
      [&] {
        lstm(unknown, {1, 16, 3}, {1, 16, 4});
      },
      "activation 'Swish' is not one ONNX defines for recurrent layers");
  expect_error<ModelError>(
      [&] {
        run_node("GRU", {floats({2, 3}), floats({1, 12, 3}), floats({1, 12, 4})}, hidden);
      },
      "X must be rank 3, got [2, 3]");
  expect_error<ModelError>(
      [&] {
        run_node("RNN", {floats({2, 1, 3}), floats({1, 4, 3}), floats({1, 4, 4}), floats({1, 8}), Value::ints({5})},
                 hidden);
      },
      "sequence_lens entries must be in [0, seq_length]");
}

TEST(OperatorErrors, ExpandToANegativeExtent) {
  expect_error<ModelError>(
      [] {
        run_node("Expand", {floats({2}), Value::ints({-1, 2})});
      },
      "(Expand): the shape to expand to has a negative extent");
}

// Attribute and shape values a hostile file can hold (found by fuzz_onnx_run or the issue
// that asked for it): each a message, never a read past a buffer or an overflow.
TEST(OperatorErrors, TransposePermMustBeAPermutation) {
  Attributes repeated;
  repeated.set("perm", std::vector<std::int64_t>{0, 0});
  expect_error<ModelError>([&] { run_node("Transpose", {floats({2, 3})}, repeated); },
                           "node 'node_0' (Transpose): perm must be a permutation of 0..1, found [0, 0]");
  Attributes negative;
  negative.set("perm", std::vector<std::int64_t>{-1, 0});
  expect_error<ModelError>([&] { run_node("Transpose", {floats({2, 3})}, negative); },
                           "perm must be a permutation of 0..1, found [-1, 0]");
  Attributes short_perm;
  short_perm.set("perm", std::vector<std::int64_t>{1, 0});
  expect_error<ModelError>([&] { run_node("Transpose", {floats({2, 3, 4})}, short_perm); },
                           "perm has 2 entries for an input of rank 3");
}

TEST(OperatorErrors, ShapeValuesBeyondAnyTensorAreRefused) {
  expect_error<ModelError>([] { run_node("Reshape", {floats({2, 3}), Value::ints({-5, 6})}); },
                           "shape entry -5 (only -1, 0 and sizes >= 1 are allowed)");
  expect_error<ModelError>(
      [] { run_node("Reshape", {floats({2, 3}), Value::ints({std::int64_t{1} << 40, std::int64_t{1} << 40})}); },
      "the requested shape holds more than 2^32 elements");
  expect_error<ModelError>(
      [] { run_node("Pad", {floats({2, 3}), Value::ints({0, std::int64_t{1} << 60, 0, 0})}); },
      "is beyond any tensor's size");
  expect_error<ModelError>([] { run_node("Expand", {floats({1}), Value::ints({1 << 20, 1 << 20})}); },
                           "would have more than 2^32 elements");
  expect_error<ModelError>(  // empty, but its strides would overflow (found by fuzz_onnx_run)
      [] { run_node("Expand", {floats({3, 1}), Value::ints({0, 3, std::int64_t{1} << 62})}); },
      "would have more than 2^32 elements");
}

TEST(OperatorErrors, AxesOutsideTheRankAreRefusedAlsoForScalars) {
  Attributes axes;
  axes.set("axes", std::vector<std::int64_t>{0});
  expect_error<ModelError>([&] { run_node("ReduceMean", {floats({})}, axes); },
                           "axis 0 is out of range for rank 0");
  Attributes axis;
  axis.set("axis", std::int64_t{0});
  expect_error<ModelError>([&] { run_node("Concat", {floats({3}), floats({})}, axis); },
                           "input 1 has rank 0, input 0 rank 1");
}


// Module naming reads kernel_shape, axes, keepdims, min and max before the operators check them
// (found by fuzz_onnx: a MaxPool whose kernel_shape was an integer ended the process).
TEST(OperatorErrors, AttributesOfTheWrongTypeAreRefusedWithTheirNodeAlsoWhereNamingReadsThem) {
  Attributes kernel;
  kernel.set("kernel_shape", std::int64_t{3});
  expect_error<ModelError>([&] { run_node("MaxPool", {floats({1, 1, 4, 4})}, kernel); },
                           "node 'node_0' (MaxPool): attribute 'kernel_shape' should be a list of integers");
  Attributes axes;
  axes.set("axes", std::string("0"));
  expect_error<ModelError>([&] { run_node("ReduceMean", {floats({2, 3})}, axes); },
                           "node 'node_0' (ReduceMean): attribute 'axes' should be a list of integers");
  Attributes keepdims;
  keepdims.set("keepdims", 1.5f);
  expect_error<ModelError>([&] { run_node("ReduceMax", {floats({2, 3})}, keepdims); },
                           "node 'node_0' (ReduceMax): attribute 'keepdims' should be an integer");
  Attributes bound;
  bound.set("min", std::string("zero"));
  expect_error<ModelError>([&] { run_node("Clip", {floats({2})}, bound, 6); },
                           "node 'node_0' (Clip): attribute 'min' should be a float");
}

// Found by fuzz_onnx_run under UBSan: windows over an empty input reach only padding, and the
// row pointer was formed from a null data pointer with a negative offset.
TEST(OperatorErrors, PoolingAnEmptyInputWithPaddingReadsNothing) {
  Attributes attributes;
  attributes.set("kernel_shape", std::vector<std::int64_t>{1, 2});
  attributes.set("pads", std::vector<std::int64_t>{0, 1, 0, 3});
  const std::vector<Value> y = run_node("MaxPool", {floats({1, 1, 2, 0})}, attributes);
  EXPECT_EQ(y[0].tensor.shape(), (Shape{1, 1, 2, 3}));
  for (float v : y[0].tensor.values()) EXPECT_EQ(v, -std::numeric_limits<float>::infinity());
}

// Found by fuzz_onnx_run under UBSan: a step of -2^63 was negated. Steps longer than the axis
// take one element, whatever their size.
TEST(OperatorErrors, SliceStepsOfAnySizeTakeOneElementWithoutOverflow) {
  Tensor data({5});
  for (std::int64_t i = 0; i < 5; ++i) data[i] = static_cast<float>(i);
  const std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  const std::int64_t highest = std::numeric_limits<std::int64_t>::max();
  const std::vector<Value> backwards = run_node(
      "Slice", {Value::floats(data), Value::ints({-1}), Value::ints({lowest}), Value::ints({0}), Value::ints({lowest})});
  EXPECT_EQ(backwards[0].tensor.shape(), (Shape{1}));
  EXPECT_EQ(backwards[0].tensor[0], 4.0f);
  const std::vector<Value> forwards = run_node(
      "Slice", {Value::floats(data), Value::ints({1}), Value::ints({highest}), Value::ints({0}), Value::ints({highest})});
  EXPECT_EQ(forwards[0].tensor.shape(), (Shape{1}));
  EXPECT_EQ(forwards[0].tensor[0], 1.0f);
}

}  // namespace
}  // namespace tessera::nn
