#include "tessera/simulator/packed_product.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "cpu/simd_targets.hpp"

namespace tessera::simulator {
namespace {

constexpr std::int64_t kPanel = PackedWeights::kPanelWidth;
// The weight slices a unit streams for each block of rows (all products, one depth pass)
// should stay in L2: a pass covers as many inputs as fit this budget, at least 64. (One pass of
// all 2048 inputs for two 2048-wide products did not fit: 1.4x slower.)
constexpr std::int64_t kSliceBytes = 1 << 20;
constexpr double kParallelWork = 1 << 18;  // multiply-adds below which threads cost more
constexpr std::int64_t kMaxRowBlock = 8;
// Narrow outputs are handed to `finished` in groups of rows of about this many elements: the
// periphery's per-call costs (one noise fill per group) then stay small against its work.
constexpr std::int64_t kFinishElements = 512;

std::string product_shapes(const PackedProduct& product) {
  return shape_to_string(product.inputs->shape()) + " by [" + std::to_string(product.weights->outputs()) + ", " +
         std::to_string(product.weights->inputs()) + "]^T into " + shape_to_string(product.out->shape());
}

// ---- vector operations per level; vectors by reference (see philox_simd.hpp) ----

struct Avx512Ops {
  static constexpr int kLanes = 16;
  static constexpr std::int64_t kRowBlock = 8;  // rows per micro-kernel call: 16 accumulators
  using Vector = __m512;
  TESSERA_ISA_AVX512 static void zero(Vector& v) { v = _mm512_setzero_ps(); }
  TESSERA_ISA_AVX512 static void load(Vector& v, const float* p) { v = _mm512_loadu_ps(p); }
  TESSERA_ISA_AVX512 static void broadcast(Vector& v, float x) { v = _mm512_set1_ps(x); }
  /// acc = a * b + acc, rounded once.
  TESSERA_ISA_AVX512 static void multiply_add(Vector& acc, const Vector& a, const Vector& b) {
    acc = _mm512_fmadd_ps(a, b, acc);
  }
  TESSERA_ISA_AVX512 static void load_first(Vector& v, const float* p, std::int64_t valid) {
    v = _mm512_maskz_loadu_ps(mask(valid), p);
  }
  TESSERA_ISA_AVX512 static void store_first(float* p, const Vector& v, std::int64_t valid) {
    _mm512_mask_storeu_ps(p, mask(valid), v);
  }
  static __mmask16 mask(std::int64_t valid) {
    return static_cast<__mmask16>(valid >= 16 ? 0xFFFF : (valid <= 0 ? 0 : (1u << valid) - 1));
  }
};

struct Avx2Ops {
  static constexpr int kLanes = 8;
  static constexpr std::int64_t kRowBlock = 3;  // 12 accumulators of the 16 registers
  using Vector = __m256;
  TESSERA_ISA_AVX2 static void zero(Vector& v) { v = _mm256_setzero_ps(); }
  TESSERA_ISA_AVX2 static void load(Vector& v, const float* p) { v = _mm256_loadu_ps(p); }
  TESSERA_ISA_AVX2 static void broadcast(Vector& v, float x) { v = _mm256_set1_ps(x); }
  TESSERA_ISA_AVX2 static void multiply_add(Vector& acc, const Vector& a, const Vector& b) {
    acc = _mm256_fmadd_ps(a, b, acc);
  }
  TESSERA_ISA_AVX2 static void load_first(Vector& v, const float* p, std::int64_t valid) {
    v = _mm256_maskload_ps(p, mask(valid));
  }
  TESSERA_ISA_AVX2 static void store_first(float* p, const Vector& v, std::int64_t valid) {
    _mm256_maskstore_ps(p, mask(valid), v);
  }
  TESSERA_ISA_AVX2 static __m256i mask(std::int64_t valid) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<std::int64_t>(valid, 0, 8))), lanes);
  }
};

// The baseline: no fused multiply-add (x86-64 without FMA has none in hardware), so a sum is
// a multiply and an add, each rounded, lane by lane with SSE2 (which every x86-64 CPU has). A
// plain loop over an array of lanes was left scalar by the compiler: 44x slower than AVX-512.
struct GenericOps {
  static constexpr int kLanes = 4;
  static constexpr std::int64_t kRowBlock = 1;  // 8 accumulators per panel of the 16 registers
  using Vector = __m128;
  static void zero(Vector& v) { v = _mm_setzero_ps(); }
  static void load(Vector& v, const float* p) { v = _mm_loadu_ps(p); }
  static void broadcast(Vector& v, float x) { v = _mm_set1_ps(x); }
  static void multiply_add(Vector& acc, const Vector& a, const Vector& b) { acc = _mm_add_ps(_mm_mul_ps(a, b), acc); }
  static void load_first(Vector& v, const float* p, std::int64_t valid) {
    if (valid >= kLanes) {
      load(v, p);
      return;
    }
    alignas(16) float lanes[kLanes] = {};
    for (std::int64_t l = 0; l < valid; ++l) lanes[l] = p[l];
    v = _mm_load_ps(lanes);
  }
  static void store_first(float* p, const Vector& v, std::int64_t valid) {
    if (valid >= kLanes) {
      _mm_storeu_ps(p, v);
      return;
    }
    alignas(16) float lanes[kLanes];
    _mm_store_ps(lanes, v);
    for (std::int64_t l = 0; l < valid; ++l) p[l] = lanes[l];
  }
};

template <class Isa>
using OpsOf = std::conditional_t<Isa::kLevel == SimdLevel::avx512, Avx512Ops,
                                 std::conditional_t<Isa::kLevel == SimdLevel::avx2, Avx2Ops, GenericOps>>;

// A unit of work: rows [row, row + rows) and panels [panel, panel + panels).
struct Unit {
  std::int64_t row, rows, panel, panels;
};

// Along the longer side (rows or outputs), one band per thread: fewer, wider bands read the
// inputs fewer times and give the periphery longer rows. The results do not depend on the split
// (each output is one fixed chain of multiply-adds), so it may follow the thread count.
std::vector<Unit> units_of(std::int64_t rows, std::int64_t panels) {
  const std::int64_t bands = std::max(1, omp_get_max_threads());
  std::vector<Unit> units;
  if (rows >= panels * kPanel) {
    const std::int64_t size = std::max<std::int64_t>(kMaxRowBlock, (rows + bands - 1) / bands);
    for (std::int64_t r = 0; r < rows; r += size) units.push_back({r, std::min(size, rows - r), 0, panels});
  } else {
    const std::int64_t size = std::max<std::int64_t>(1, (panels + bands - 1) / bands);
    for (std::int64_t p = 0; p < panels; p += size) units.push_back({0, rows, p, std::min(size, panels - p)});
  }
  return units;
}

// out[r, o] (+)= sum_k x[r, k] W[o, k] for `rows` rows (at most Ops::kRowBlock) and PANELS
// consecutive panels, over inputs [k0, k1): each accumulator starts from the stored partial
// sum after the first depth block, so every sum runs over the inputs in order, one
// multiply-add after the other, whatever the blocking and the vector width. Few rows take
// several panels at once: the same sums, but enough independent accumulators to hide the
// multiply-add latency. `valid` is the number of real outputs from the first panel's start.
template <class Ops, int ROWS, int PANELS>
inline void panel_kernel(const float* x, std::int64_t x_stride, const float* panel, std::int64_t panel_stride,
                         std::int64_t k0, std::int64_t k1, float* out, std::int64_t out_stride, std::int64_t valid,
                         bool continue_sum) {
  using Vector = typename Ops::Vector;
  constexpr int kPerPanel = static_cast<int>(kPanel) / Ops::kLanes;
  constexpr int kVectors = PANELS * kPerPanel;
  Vector sums[ROWS][kVectors];
  for (int r = 0; r < ROWS; ++r) {
    for (int h = 0; h < kVectors; ++h) {
      if (continue_sum) {
        Ops::load_first(sums[r][h], out + r * out_stride + Ops::kLanes * h, valid - Ops::kLanes * h);
      } else {
        Ops::zero(sums[r][h]);
      }
    }
  }
  Vector w[kVectors];
  Vector value;
  for (std::int64_t k = k0; k < k1; ++k) {
    for (int p = 0; p < PANELS; ++p) {
      for (int v = 0; v < kPerPanel; ++v) Ops::load(w[p * kPerPanel + v], panel + p * panel_stride + k * kPanel + Ops::kLanes * v);
    }
    for (int r = 0; r < ROWS; ++r) {
      Ops::broadcast(value, x[r * x_stride + k]);
      for (int h = 0; h < kVectors; ++h) Ops::multiply_add(sums[r][h], value, w[h]);
    }
  }
  for (int r = 0; r < ROWS; ++r) {
    for (int h = 0; h < kVectors; ++h) Ops::store_first(out + r * out_stride + Ops::kLanes * h, sums[r][h], valid - Ops::kLanes * h);
  }
}

// The panels one call takes for `rows` rows (1, 2 or 4), within the accumulators a level has.
template <class Ops>
constexpr int panels_for(std::int64_t rows) {
  const int registers = Ops::kLanes == 16 ? 16 : 12;  // accumulators that fit
  const int per_panel = static_cast<int>(kPanel) / Ops::kLanes;
  for (int panels : {4, 2}) {
    if (rows * panels * per_panel <= registers) return panels;
  }
  return 1;
}

template <class Ops, int ROWS>
inline void rows_kernel(int panels, const float* x, std::int64_t x_stride, const float* panel,
                        std::int64_t panel_stride, std::int64_t k0, std::int64_t k1, float* out,
                        std::int64_t out_stride, std::int64_t valid, bool continue_sum) {
  if (panels >= 4 && panels_for<Ops>(ROWS) >= 4) {
    panel_kernel<Ops, ROWS, 4>(x, x_stride, panel, panel_stride, k0, k1, out, out_stride, valid, continue_sum);
  } else if (panels >= 2 && panels_for<Ops>(ROWS) >= 2) {
    panel_kernel<Ops, ROWS, 2>(x, x_stride, panel, panel_stride, k0, k1, out, out_stride, valid, continue_sum);
  } else {
    panel_kernel<Ops, ROWS, 1>(x, x_stride, panel, panel_stride, k0, k1, out, out_stride, valid, continue_sum);
  }
}

// The kernel for `rows` rows (1..Ops::kRowBlock); returns the panels it took.
template <class Ops>
inline int run_kernel(std::int64_t rows, int panels, const float* x, std::int64_t x_stride, const float* panel,
                      std::int64_t panel_stride, std::int64_t k0, std::int64_t k1, float* out, std::int64_t out_stride,
                      std::int64_t valid, bool continue_sum) {
  int taken = std::min(panels, panels_for<Ops>(rows));
  taken = taken >= 4 ? 4 : (taken >= 2 ? 2 : 1);
  auto call = [&]<int ROWS>() {
    rows_kernel<Ops, ROWS>(taken, x, x_stride, panel, panel_stride, k0, k1, out, out_stride, valid, continue_sum);
  };
  switch (rows) {
    case 1: call.template operator()<1>(); break;
    case 2: call.template operator()<2>(); break;
    case 3: call.template operator()<3>(); break;
    case 4: if constexpr (Ops::kRowBlock >= 4) call.template operator()<4>(); break;
    case 5: if constexpr (Ops::kRowBlock >= 5) call.template operator()<5>(); break;
    case 6: if constexpr (Ops::kRowBlock >= 6) call.template operator()<6>(); break;
    case 7: if constexpr (Ops::kRowBlock >= 7) call.template operator()<7>(); break;
    default: if constexpr (Ops::kRowBlock >= 8) call.template operator()<8>(); break;
  }
  return taken;
}

template <class Isa>
inline void run_unit_body(std::span<const PackedProduct> products, const Unit& unit, const FinishedBlock& finished) {
  using Ops = OpsOf<Isa>;
  const PackedWeights& first = *products.front().weights;
  const std::int64_t inputs = first.inputs(), outputs = first.outputs();
  const std::int64_t first_output = unit.panel * kPanel;
  const std::int64_t output_count = std::min(outputs, (unit.panel + unit.panels) * kPanel) - first_output;
  const std::int64_t panel_stride = inputs * kPanel;
  const std::int64_t bytes_per_input =
      static_cast<std::int64_t>(products.size()) * unit.panels * kPanel * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t depth_block = std::max<std::int64_t>(64, kSliceBytes / bytes_per_input / 64 * 64);
  const std::int64_t finish_rows =
      std::max<std::int64_t>(Ops::kRowBlock, kFinishElements / std::max<std::int64_t>(1, output_count));
  for (std::int64_t k0 = 0; k0 < inputs || k0 == 0; k0 += depth_block) {
    const std::int64_t k1 = std::min(inputs, k0 + depth_block);
    const bool last_depth_block = k1 == inputs;
    std::int64_t unfinished = unit.row;  // the first row not yet handed to `finished`
    for (std::int64_t r = unit.row; r < unit.row + unit.rows; r += Ops::kRowBlock) {
      const std::int64_t rows = std::min(Ops::kRowBlock, unit.row + unit.rows - r);
      for (const PackedProduct& product : products) {
        const std::int64_t out_stride = product.out->dim(1);
        const std::int64_t end = unit.panel + unit.panels;
        for (std::int64_t p = unit.panel; p < end;) {
          p += run_kernel<Ops>(rows, static_cast<int>(end - p), product.inputs->data() + r * inputs, inputs,
                               product.weights->panel(p), panel_stride, k0, k1,
                               product.out->data() + r * out_stride + p * kPanel, out_stride, outputs - p * kPanel,
                               k0 > 0);
        }
      }
      const std::int64_t done = r + rows;
      if (last_depth_block && finished && (done - unfinished >= finish_rows || done == unit.row + unit.rows)) {
        finished(unfinished, done - unfinished, first_output, output_count);
        unfinished = done;
      }
    }
  }
}

TESSERA_TARGET_AVX512 void run_unit_avx512(std::span<const PackedProduct> products, const Unit& unit,
                                           const FinishedBlock& finished) {
  run_unit_body<Avx512Isa>(products, unit, finished);
}
TESSERA_TARGET_AVX2 void run_unit_avx2(std::span<const PackedProduct> products, const Unit& unit,
                                       const FinishedBlock& finished) {
  run_unit_body<Avx2Isa>(products, unit, finished);
}
void run_unit_generic(std::span<const PackedProduct> products, const Unit& unit, const FinishedBlock& finished) {
  run_unit_body<GenericIsa>(products, unit, finished);
}

}  // namespace

PackedWeights::PackedWeights(const Tensor& weights) {
  if (weights.rank() != 2) {
    throw std::invalid_argument("PackedWeights: expected a matrix, got " + shape_to_string(weights.shape()));
  }
  outputs_ = weights.dim(0);
  inputs_ = weights.dim(1);
  values_.assign(static_cast<std::size_t>(panels() * inputs_ * kPanel), 0.0f);
  for (std::int64_t o = 0; o < outputs_; ++o) {
    float* panel = values_.data() + (o / kPanel) * inputs_ * kPanel + o % kPanel;
    const float* row = weights.data() + o * inputs_;
    for (std::int64_t k = 0; k < inputs_; ++k) panel[k * kPanel] = row[k];
  }
}

void packed_products(std::span<const PackedProduct> products, const FinishedBlock& finished) {
  if (products.empty()) return;
  const PackedWeights& shape = *products.front().weights;
  const Tensor& first_inputs = *products.front().inputs;
  const std::int64_t rows = first_inputs.rank() == 2 ? first_inputs.dim(0) : -1;
  for (const PackedProduct& product : products) {
    const Tensor& in = *product.inputs;
    const Tensor& out = *product.out;
    if (in.rank() != 2 || out.rank() != 2 || in.dim(0) != rows || in.dim(1) != shape.inputs() || out.dim(0) != rows ||
        out.dim(1) != shape.outputs() || product.weights->inputs() != shape.inputs() ||
        product.weights->outputs() != shape.outputs()) {
      throw std::invalid_argument("packed_products: cannot multiply " + product_shapes(product));
    }
  }
  if (rows == 0 || shape.outputs() == 0) return;
  const std::vector<Unit> units = units_of(rows, shape.panels());
  const double work = static_cast<double>(rows) * static_cast<double>(shape.outputs()) *
                      static_cast<double>(shape.inputs()) * static_cast<double>(products.size());
  const auto count = static_cast<std::int64_t>(units.size());
  const auto run_unit = for_level(run_unit_generic, run_unit_avx2, run_unit_avx512);
#pragma omp parallel for schedule(static) if (count > 1 && work > kParallelWork)
  for (std::int64_t u = 0; u < count; ++u) run_unit(products, units[static_cast<std::size_t>(u)], finished);
}

}  // namespace tessera::simulator
