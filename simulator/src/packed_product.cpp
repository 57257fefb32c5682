#include "tessera/simulator/packed_product.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/simulator/matmul.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tessera::simulator {
namespace {

constexpr std::int64_t kPanel = PackedWeights::kPanelWidth;
constexpr std::int64_t kRowBlock = 8;      // rows per micro-kernel call: 16 accumulators
constexpr std::int64_t kDepthBlock = 512;  // inputs per pass: a panel's slice stays in L1
constexpr std::int64_t kBands = 4;         // units of parallel work, as matmul_transposed
constexpr double kParallelWork = 1 << 18;  // multiply-adds below which threads cost more

// A unit of work: rows [row, row + rows) and panels [panel, panel + panels).
struct Unit {
  std::int64_t row, rows, panel, panels;
};

// Along the longer side (rows or outputs), cut into kBands: depends on the shape only.
std::vector<Unit> units_of(std::int64_t rows, std::int64_t panels) {
  std::vector<Unit> units;
  if (rows >= panels * kPanel) {
    const std::int64_t size = std::max<std::int64_t>(kRowBlock, (rows + kBands - 1) / kBands);
    for (std::int64_t r = 0; r < rows; r += size) units.push_back({r, std::min(size, rows - r), 0, panels});
  } else {
    const std::int64_t size = std::max<std::int64_t>(1, (panels + kBands - 1) / kBands);
    for (std::int64_t p = 0; p < panels; p += size) units.push_back({0, rows, p, std::min(size, panels - p)});
  }
  return units;
}

#if defined(__AVX512F__)
// out[r, o] (+)= sum_k x[r, k] W[o, k] for ROWS rows and one panel, over inputs [k0, k1):
// each accumulator starts from the stored partial sum after the first depth block, so the sum
// runs over the inputs in order whatever the blocking.
template <int ROWS>
void panel_kernel(const float* x, std::int64_t x_stride, const float* panel, std::int64_t k0, std::int64_t k1,
                  float* out, std::int64_t out_stride, __mmask16 low_mask, __mmask16 high_mask, bool continue_sum) {
  __m512 low[ROWS], high[ROWS];
  for (int r = 0; r < ROWS; ++r) {
    low[r] = continue_sum ? _mm512_maskz_loadu_ps(low_mask, out + r * out_stride) : _mm512_setzero_ps();
    high[r] = continue_sum ? _mm512_maskz_loadu_ps(high_mask, out + r * out_stride + 16) : _mm512_setzero_ps();
  }
  for (std::int64_t k = k0; k < k1; ++k) {
    const __m512 w_low = _mm512_loadu_ps(panel + k * kPanel);
    const __m512 w_high = _mm512_loadu_ps(panel + k * kPanel + 16);
    for (int r = 0; r < ROWS; ++r) {
      const __m512 value = _mm512_set1_ps(x[r * x_stride + k]);
      low[r] = _mm512_fmadd_ps(value, w_low, low[r]);
      high[r] = _mm512_fmadd_ps(value, w_high, high[r]);
    }
  }
  for (int r = 0; r < ROWS; ++r) {
    _mm512_mask_storeu_ps(out + r * out_stride, low_mask, low[r]);
    _mm512_mask_storeu_ps(out + r * out_stride + 16, high_mask, high[r]);
  }
}

using PanelKernel = void (*)(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, float*, std::int64_t,
                             __mmask16, __mmask16, bool);
constexpr PanelKernel kKernels[kRowBlock + 1] = {nullptr,         panel_kernel<1>, panel_kernel<2>,
                                                 panel_kernel<3>, panel_kernel<4>, panel_kernel<5>,
                                                 panel_kernel<6>, panel_kernel<7>, panel_kernel<8>};

void run_unit(std::span<const PackedProduct> products, const Unit& unit, const FinishedBlock& finished) {
  const PackedWeights& first = *products.front().weights;
  const std::int64_t inputs = first.inputs(), outputs = first.outputs();
  const std::int64_t first_output = unit.panel * kPanel;
  const std::int64_t output_count = std::min(outputs, (unit.panel + unit.panels) * kPanel) - first_output;
  for (std::int64_t k0 = 0; k0 < inputs || k0 == 0; k0 += kDepthBlock) {
    const std::int64_t k1 = std::min(inputs, k0 + kDepthBlock);
    const bool last_depth_block = k1 == inputs;
    for (std::int64_t r = unit.row; r < unit.row + unit.rows; r += kRowBlock) {
      const std::int64_t rows = std::min(kRowBlock, unit.row + unit.rows - r);
      for (const PackedProduct& product : products) {
        const std::int64_t out_stride = product.out->dim(1);
        for (std::int64_t p = unit.panel; p < unit.panel + unit.panels; ++p) {
          const std::int64_t valid = std::min(kPanel, outputs - p * kPanel);
          const auto low_mask = static_cast<__mmask16>(valid >= 16 ? 0xFFFF : (1u << valid) - 1);
          const auto high_mask =
              static_cast<__mmask16>(valid >= 32 ? 0xFFFF : (valid > 16 ? (1u << (valid - 16)) - 1 : 0));
          kKernels[rows](product.inputs->data() + r * inputs, inputs, product.weights->panel(p), k0, k1,
                         product.out->data() + r * out_stride + p * kPanel, out_stride, low_mask, high_mask, k0 > 0);
        }
      }
      if (last_depth_block && finished) finished(r, rows, first_output, output_count);
    }
  }
}
#else
void run_unit(std::span<const PackedProduct> products, const Unit& unit, const FinishedBlock& finished) {
  const std::int64_t outputs = products.front().weights->outputs();
  const std::int64_t first_output = unit.panel * kPanel;
  const std::int64_t output_count = std::min(outputs, (unit.panel + unit.panels) * kPanel) - first_output;
  for (const PackedProduct& product : products) {
    matmul_transposed_band(*product.inputs, product.weights->unpacked(), *product.out, unit.row, unit.rows,
                           first_output, output_count);
  }
  if (finished) finished(unit.row, unit.rows, first_output, output_count);
}
#endif

}  // namespace

PackedWeights::PackedWeights(const Tensor& weights) : source_(&weights) {
  if (weights.rank() != 2) {
    throw std::invalid_argument("PackedWeights: expected a matrix, got " + shape_to_string(weights.shape()));
  }
  outputs_ = weights.dim(0);
  inputs_ = weights.dim(1);
#if defined(__AVX512F__)
  values_.assign(static_cast<std::size_t>(panels() * inputs_ * kPanel), 0.0f);
  for (std::int64_t o = 0; o < outputs_; ++o) {
    float* panel = values_.data() + (o / kPanel) * inputs_ * kPanel + o % kPanel;
    const float* row = weights.data() + o * inputs_;
    for (std::int64_t k = 0; k < inputs_; ++k) panel[k * kPanel] = row[k];
  }
#endif
}

void packed_products(std::span<const PackedProduct> products, const FinishedBlock& finished) {
  if (products.empty()) return;
  const std::int64_t rows = products.front().inputs->dim(0);
  const PackedWeights& shape = *products.front().weights;
  for (const PackedProduct& product : products) {
    const Tensor& in = *product.inputs;
    const Tensor& out = *product.out;
    if (in.rank() != 2 || out.rank() != 2 || in.dim(0) != rows || in.dim(1) != shape.inputs() || out.dim(0) != rows ||
        out.dim(1) != shape.outputs() || product.weights->inputs() != shape.inputs() ||
        product.weights->outputs() != shape.outputs()) {
      throw std::invalid_argument("packed_products: cannot multiply " + shape_to_string(in.shape()) + " by [" +
                                  std::to_string(product.weights->outputs()) + ", " +
                                  std::to_string(product.weights->inputs()) + "]^T into " +
                                  shape_to_string(out.shape()));
    }
  }
  if (rows == 0 || shape.outputs() == 0) return;
  const std::vector<Unit> units = units_of(rows, shape.panels());
  const double work = static_cast<double>(rows) * static_cast<double>(shape.outputs()) *
                      static_cast<double>(shape.inputs()) * static_cast<double>(products.size());
  const auto count = static_cast<std::int64_t>(units.size());
#pragma omp parallel for schedule(static) if (count > 1 && work > kParallelWork)
  for (std::int64_t u = 0; u < count; ++u) run_unit(products, units[static_cast<std::size_t>(u)], finished);
}

}  // namespace tessera::simulator
