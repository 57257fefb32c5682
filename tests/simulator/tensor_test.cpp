#include "tessera/simulator/tensor.hpp"

#include <gtest/gtest.h>

#include "expect_error.hpp"

namespace tessera::simulator {
namespace {

TEST(Tensor, ViewsShareTheBuffer) {
  Tensor tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(tensor.matrix()(1, 2), 6.0f);
  tensor.matrix()(0, 1) = 9.0f;
  EXPECT_EQ(tensor[1], 9.0f);
  EXPECT_EQ(tensor.matrix(3, 2)(0, 1), 9.0f);
  EXPECT_EQ(tensor.matrix().data(), tensor.data());
  EXPECT_FLOAT_EQ(tensor.flat().sum(), 28.0f);
}

TEST(Tensor, AbsurdShapesAreRefusedBeforeAllocating) {
  using tessera::testing::expect_error;
  EXPECT_EQ(element_count({65536, 65536}), kMaxTensorElements);  // 16 GiB: the most allowed
  expect_error<std::length_error>([] { Tensor({1000000, 1000000}); },
                                  "a tensor of shape [1000000, 1000000] would have more than 2^32 elements");
  // Products that overflow 64 bits are caught too, not wrapped around.
  expect_error<std::length_error>([] { element_count({1LL << 40, 1LL << 40, 1LL << 40}); }, "more than 2^32");
  // An empty shape may not span more either: its strides would overflow (found by
  // fuzz_onnx_run: Expand to [0, 3, 5572170448185065472]).
  EXPECT_EQ(element_count({0, 65536, 65536}), 0);
  expect_error<std::length_error>([] { element_count({0, 1LL << 62}); }, "more than 2^32");
  expect_error<std::length_error>([] { element_count({3, 0, 1LL << 40}); }, "more than 2^32");
}

TEST(Tensor, ShapesAreChecked) {
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({2, 0, 3}), 0);
  using tessera::testing::expect_error;
  expect_error<std::invalid_argument>([] { element_count({2, -1}); }, "negative extent in shape [2, -1]");
  expect_error<std::invalid_argument>(
      [] {
        Tensor({2, 2}, {1, 2, 3});
      },
      "tensor of shape [2, 2] needs 4 values, got 3");
  Tensor tensor({2, 3});
  expect_error<std::invalid_argument>([&] { tensor.reshape({4, 2}); }, "cannot reshape [2, 3] to [4, 2]");
  expect_error<std::invalid_argument>([&] { tensor.matrix(4, 2); },
                                      "cannot view tensor of shape [2, 3] as a 4x2 matrix");
  tensor.reshape({6});
  expect_error<std::invalid_argument>([&] { tensor.matrix(); }, "matrix() needs a rank-2 tensor, got [6]");
  expect_error<std::out_of_range>([&] { tensor.dim(1); }, "axis 1 out of range for shape [6]");
  EXPECT_EQ(tensor.dim(-1), 6);
}

}  // namespace
}  // namespace tessera::simulator
