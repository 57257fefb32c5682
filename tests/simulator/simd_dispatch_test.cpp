// The kernels picked at run time (cpu_features.hpp) keep their promises on every SIMD level
// this CPU runs: random streams bit-identical on all levels; the packed product equal, bit for
// bit, to an in-order chain of fused multiply-adds on AVX-512 and AVX2 and of separate
// multiplies and adds on the generic level; float GEMMs within float rounding of a
// double-precision reference on every level.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "expect_error.hpp"
#include "reference/matmul_reference.hpp"
#include "tessera/simulator/cpu_features.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/packed_product.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "test_seed.hpp"

namespace tessera::simulator {
namespace {

/// The levels this CPU runs, lowest first.
std::vector<SimdLevel> runnable_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::generic, SimdLevel::avx2, SimdLevel::avx512}) {
    if (static_cast<int>(level) <= static_cast<int>(supported_simd_level())) levels.push_back(level);
  }
  return levels;
}

/// Runs `body` with kernels at `level`, restoring the level in use afterwards.
template <class Body>
auto at_level(SimdLevel level, Body body) {
  const SimdLevel before = simd_level();
  set_simd_level(level);
  struct Restore {
    SimdLevel level;
    ~Restore() { set_simd_level(level); }
  } restore{before};
  return body();
}

Tensor normal_tensor(Shape shape, std::uint64_t stream) {
  Tensor tensor(std::move(shape));
  RandomStream(testing::test_seed(), stream).fill_normal(tensor.values());
  return tensor;
}

TEST(SimdDispatch, LevelsHaveNamesAndUnknownOnesAreRefused) {
  for (SimdLevel level : {SimdLevel::generic, SimdLevel::avx2, SimdLevel::avx512}) {
    EXPECT_EQ(simd_level_from_name(simd_level_name(level)), level);
  }
  tessera::testing::expect_error<std::invalid_argument>([] { simd_level_from_name("sse4"); },
                                                        "unknown SIMD level 'sse4' (expected generic, avx2 or avx512)");
  EXPECT_LE(static_cast<int>(simd_level()), static_cast<int>(supported_simd_level()));
}

TEST(SimdDispatch, ALevelAboveTheCpusIsRefused) {
  if (supported_simd_level() == SimdLevel::avx512) GTEST_SKIP() << "this CPU runs every level";
  tessera::testing::expect_error<std::invalid_argument>([] { set_simd_level(SimdLevel::avx512); },
                                                        "set_simd_level: this CPU does not run avx512 code");
}

TEST(SimdDispatch, RandomStreamsAreBitIdenticalOnEveryLevel) {
  const RandomStream stream(testing::test_seed(), 77);
  // Odd offsets and lengths (ragged chunk ends), a fill large enough for threads, and one
  // crossing the low counter word's wrap (where the vector groups fall back to single blocks).
  struct Fill {
    std::uint64_t offset;
    std::size_t count;
  };
  const Fill fills[] = {{3, 1}, {5, 257}, {0, 1 << 18}, {(std::uint64_t{1} << 34) - 101, 1001}};
  for (const Fill& fill : fills) {
    auto draw = [&] {
      std::vector<float> uniforms(fill.count), normals(fill.count), scaled(fill.count);
      stream.fill_uniform(uniforms, fill.offset);
      stream.fill_normal(normals, fill.offset);
      stream.fill_normal(scaled, fill.offset, 0.5f, 2.0f);
      return std::vector<std::vector<float>>{uniforms, normals, scaled};
    };
    const auto expected = at_level(SimdLevel::generic, draw);
    for (SimdLevel level : runnable_levels()) {
      EXPECT_EQ(at_level(level, draw), expected) << simd_level_name(level) << " offset " << fill.offset;
    }
    // The generic level's first elements are the single-element functions' (philox.hpp).
    EXPECT_EQ(expected[0][0], stream_uniform(stream.seed(), stream.stream_id(), fill.offset));
    EXPECT_EQ(expected[1][0], stream_normal(stream.seed(), stream.stream_id(), fill.offset));
  }
}

// out[r, o] as the documented chain over the inputs in order: fused (rounded once) or not.
std::vector<float> chained_products(const Tensor& x, const Tensor& w, bool fused) {
  const std::int64_t rows = x.dim(0), in = x.dim(1), out = w.dim(0);
  std::vector<float> result(static_cast<std::size_t>(rows * out));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t o = 0; o < out; ++o) {
      float sum = 0.0f;
      for (std::int64_t k = 0; k < in; ++k) {
        const float a = x[r * in + k], b = w[o * in + k];
        sum = fused ? std::fma(a, b, sum) : a * b + sum;
      }
      result[static_cast<std::size_t>(r * out + o)] = sum;
    }
  }
  return result;
}

TEST(SimdDispatch, ThePackedProductIsTheDocumentedChainOnEveryLevel) {
  // Shapes with ragged panels (outputs not a multiple of 32), every row-block size and a depth
  // beyond one depth block (so partial sums are stored and continued).
  struct Shape3 {
    std::int64_t rows, out, in;
  };
  for (const Shape3 shape : {Shape3{1, 10, 9}, Shape3{7, 33, 144}, Shape3{37, 100, 2500}}) {
    const Tensor x = normal_tensor({shape.rows, shape.in}, 1);
    const Tensor w = normal_tensor({shape.out, shape.in}, 2);
    const PackedWeights packed(w);
    for (SimdLevel level : runnable_levels()) {
      Tensor out({shape.rows, shape.out});
      const PackedProduct products[] = {{&x, &packed, &out}};
      at_level(level, [&] {
        packed_products(products, nullptr);
        return 0;
      });
      const bool fused = level != SimdLevel::generic;
      const std::vector<float> expected = chained_products(x, w, fused);
      EXPECT_EQ(std::vector<float>(out.values().begin(), out.values().end()), expected)
          << simd_level_name(level) << " " << shape.rows << "x" << shape.out << "x" << shape.in;
    }
  }
}

TEST(SimdDispatch, FloatProductsAreWithinRoundingOfTheReferenceOnEveryLevel) {
  const Tensor a = normal_tensor({45, 130}, 3);
  const Tensor b = normal_tensor({70, 130}, 4);
  const auto reference = reference::matmul_transposed(a, b);
  for (SimdLevel level : runnable_levels()) {
    Tensor out({45, 70});
    at_level(level, [&] {
      matmul_transposed(a, b, out);
      return 0;
    });
    for (std::int64_t k = 0; k < out.size(); ++k) {
      ASSERT_NEAR(out[k], reference.value[static_cast<std::size_t>(k)], reference.tolerance[static_cast<std::size_t>(k)])
          << simd_level_name(level) << " element " << k;
    }
  }
}

}  // namespace
}  // namespace tessera::simulator
