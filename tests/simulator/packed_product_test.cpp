// The tile's packed product: equal to a double-precision reference to float rounding on ragged
// shapes (rows and outputs not multiples of the kernel's blocks, inputs over one depth block),
// the same bits for 1 and 2 threads and for any batch a row comes in, every block handed to the
// hook exactly once after it is final, and shape mismatches refused.
#include "tessera/simulator/packed_product.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "expect_error.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::simulator {
namespace {

Tensor random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t stream) {
  Tensor t({rows, cols});
  RandomStream(5, stream).fill_normal(t.values());
  return t;
}

Tensor product(const Tensor& x, const Tensor& w) {
  const PackedWeights packed(w);
  Tensor out({x.dim(0), w.dim(0)});
  const PackedProduct products[] = {{&x, &packed, &out}};
  packed_products(products, nullptr);
  return out;
}

TEST(PackedProduct, EqualsTheDoubleReferenceOnRaggedShapes) {
  struct Shape {
    std::int64_t rows, out, in;
  };
  for (const Shape s : {Shape{1, 1, 1}, Shape{3, 17, 5}, Shape{9, 33, 70}, Shape{13, 100, 1100}, Shape{300, 40, 64},
                        Shape{5, 2048, 1100}}) {  // the last takes three passes over the inputs
    const Tensor x = random_matrix(s.rows, s.in, 1), w = random_matrix(s.out, s.in, 2);
    const Tensor y = product(x, w);
    for (std::int64_t r = 0; r < s.rows; ++r) {
      for (std::int64_t o = 0; o < s.out; ++o) {
        double exact = 0.0, magnitude = 0.0;
        for (std::int64_t k = 0; k < s.in; ++k) {
          exact += static_cast<double>(x[r * s.in + k]) * w[o * s.in + k];
          magnitude += std::abs(static_cast<double>(x[r * s.in + k]) * w[o * s.in + k]);
        }
        // Float sums of `in` products: error below in * 2^-24 * sum |terms| (plus a margin).
        ASSERT_NEAR(y[r * s.out + o], exact, 1e-6 + static_cast<double>(s.in) * 6e-8 * magnitude)
            << s.rows << "x" << s.out << "x" << s.in << " at " << r << "," << o;
      }
    }
  }
}

TEST(PackedProduct, OneAndTwoThreadsGiveTheSameBits) {
  const Tensor x = random_matrix(256, 600, 3), w = random_matrix(520, 600, 4);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = product(x, w);
  omp_set_num_threads(2);
  const Tensor two = product(x, w);
  omp_set_num_threads(threads);
  for (std::int64_t k = 0; k < one.size(); ++k) ASSERT_EQ(one[k], two[k]) << k;
}

// A row's sums are one chain over the inputs whatever kernel its block takes (1, 2 or 4 panels
// at once for few rows, one for many): any batch size gives it the same bits.
TEST(PackedProduct, ARowGetsTheSameBitsInAnyBatch) {
  const Tensor x = random_matrix(300, 700, 9), w = random_matrix(200, 700, 10);
  const Tensor whole = product(x, w);
  for (std::int64_t rows : {1, 2, 3, 5, 9}) {
    Tensor part({rows, 700});
    std::copy(x.data() + 7 * 700, x.data() + (7 + rows) * 700, part.data());
    const Tensor y = product(part, w);
    for (std::int64_t k = 0; k < y.size(); ++k) ASSERT_EQ(y[k], whole[7 * 200 + k]) << rows << " rows, " << k;
  }
}

TEST(PackedProduct, HandsEveryFinishedBlockOnceWithTheFinalValues) {
  constexpr std::int64_t kOutputs = 2050;  // wide enough for three passes over the inputs
  const Tensor x = random_matrix(37, 1030, 5), w = random_matrix(kOutputs, 1030, 6);
  const Tensor expected = product(x, w);
  const PackedWeights packed(w);
  Tensor out({37, kOutputs});
  std::vector<int> seen(37 * kOutputs, 0);
  std::atomic<int> stale_values{0};
  const PackedProduct products[] = {{&x, &packed, &out}};
  packed_products(products, [&](std::int64_t r, std::int64_t rows, std::int64_t o, std::int64_t outputs) {
    for (std::int64_t a = r; a < r + rows; ++a) {
      for (std::int64_t i = o; i < o + outputs; ++i) {
#pragma omp atomic
        ++seen[static_cast<std::size_t>(a * kOutputs + i)];
        if (out[a * kOutputs + i] != expected[a * kOutputs + i]) ++stale_values;
      }
    }
  });
  for (int count : seen) ASSERT_EQ(count, 1);
  EXPECT_EQ(stale_values.load(), 0);
}

TEST(PackedProduct, RefusesMismatchedShapes) {
  const Tensor x = random_matrix(4, 6, 7), w = random_matrix(5, 7, 8);
  const PackedWeights packed(w);
  Tensor out({4, 5});
  const PackedProduct products[] = {{&x, &packed, &out}};
  testing::expect_error<std::invalid_argument>([&] { packed_products(products, nullptr); },
                                               "packed_products: cannot multiply [4, 6] by [5, 7]^T into [4, 5]");
  const Tensor vector({6});
  const PackedProduct from_a_vector[] = {{&vector, &packed, &out}};
  testing::expect_error<std::invalid_argument>([&] { packed_products(from_a_vector, nullptr); },
                                               "packed_products: cannot multiply [6] by [5, 7]^T into [4, 5]");
  testing::expect_error<std::invalid_argument>(
      [] {
        PackedWeights(Tensor({2, 3, 4}));
      },
      "PackedWeights: expected a matrix, got [2, 3, 4]");
}

}  // namespace
}  // namespace tessera::simulator
