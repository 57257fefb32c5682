#include "tessera/simulator/tensor.hpp"

#include <gtest/gtest.h>

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

TEST(Tensor, ShapesAreChecked) {
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({2, 0, 3}), 0);
  EXPECT_THROW(element_count({2, -1}), std::invalid_argument);
  EXPECT_THROW(Tensor({2, 2}, {1, 2, 3}), std::invalid_argument);
  Tensor tensor({2, 3});
  EXPECT_THROW(tensor.reshape({4, 2}), std::invalid_argument);
  EXPECT_THROW(tensor.matrix(4, 2), std::invalid_argument);
  tensor.reshape({6});
  EXPECT_THROW(tensor.matrix(), std::invalid_argument);
  EXPECT_THROW(tensor.dim(1), std::out_of_range);
  EXPECT_EQ(tensor.dim(-1), 6);
}

}  // namespace
}  // namespace tessera::simulator
