#include "tessera/simulator/packed_product.hpp"

#include <omp.h>

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

std::string product_shapes(const PackedProduct& product) {
  return shape_to_string(product.inputs->shape()) + " by [" + std::to_string(product.weights->outputs()) + ", " +
         std::to_string(product.weights->inputs()) + "]^T into " + shape_to_string(product.out->shape());
}

#if defined(__AVX512F__)
constexpr std::int64_t kRowBlock = 8;  // rows per micro-kernel call: 16 accumulators
// The weight slices a unit streams for each block of rows (all products, one depth pass)
// should stay in L2: a pass covers as many inputs as fit this budget, at least 64. (One pass of
// all 2048 inputs for two 2048-wide products did not fit: 1.4x slower.)
constexpr std::int64_t kSliceBytes = 1 << 20;
constexpr double kParallelWork = 1 << 18;  // multiply-adds below which threads cost more

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
    const std::int64_t size = std::max<std::int64_t>(kRowBlock, (rows + bands - 1) / bands);
    for (std::int64_t r = 0; r < rows; r += size) units.push_back({r, std::min(size, rows - r), 0, panels});
  } else {
    const std::int64_t size = std::max<std::int64_t>(1, (panels + bands - 1) / bands);
    for (std::int64_t p = 0; p < panels; p += size) units.push_back({0, rows, p, std::min(size, panels - p)});
  }
  return units;
}

// out[r, o] (+)= sum_k x[r, k] W[o, k] for ROWS rows and PANELS consecutive panels, over inputs
// [k0, k1): each accumulator starts from the stored partial sum after the first depth block, so
// every sum runs over the inputs in order, one fused multiply-add after the other, whatever the
// blocking. Few rows take several panels at once: the same sums, but enough independent
// accumulators to hide the multiply-add latency.
template <int ROWS, int PANELS>
void panel_kernel(const float* x, std::int64_t x_stride, const float* panel, std::int64_t panel_stride, std::int64_t k0,
                  std::int64_t k1, float* out, std::int64_t out_stride, const __mmask16* masks, bool continue_sum) {
  __m512 sums[ROWS][2 * PANELS];
  for (int r = 0; r < ROWS; ++r) {
    for (int h = 0; h < 2 * PANELS; ++h) {
      sums[r][h] = continue_sum ? _mm512_maskz_loadu_ps(masks[h], out + r * out_stride + 16 * h) : _mm512_setzero_ps();
    }
  }
  for (std::int64_t k = k0; k < k1; ++k) {
    __m512 w[2 * PANELS];
    for (int p = 0; p < PANELS; ++p) {
      w[2 * p] = _mm512_loadu_ps(panel + p * panel_stride + k * kPanel);
      w[2 * p + 1] = _mm512_loadu_ps(panel + p * panel_stride + k * kPanel + 16);
    }
    for (int r = 0; r < ROWS; ++r) {
      const __m512 value = _mm512_set1_ps(x[r * x_stride + k]);
      for (int h = 0; h < 2 * PANELS; ++h) sums[r][h] = _mm512_fmadd_ps(value, w[h], sums[r][h]);
    }
  }
  for (int r = 0; r < ROWS; ++r) {
    for (int h = 0; h < 2 * PANELS; ++h) _mm512_mask_storeu_ps(out + r * out_stride + 16 * h, masks[h], sums[r][h]);
  }
}

using PanelKernel = void (*)(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, std::int64_t, float*,
                             std::int64_t, const __mmask16*, bool);
// kKernels[rows][p]: p = 0 one panel, 1 two, 2 four. At most 16 accumulators.
constexpr PanelKernel kKernels[kRowBlock + 1][3] = {{nullptr, nullptr, nullptr},
                                                    {panel_kernel<1, 1>, panel_kernel<1, 2>, panel_kernel<1, 4>},
                                                    {panel_kernel<2, 1>, panel_kernel<2, 2>, panel_kernel<2, 4>},
                                                    {panel_kernel<3, 1>, panel_kernel<3, 2>, panel_kernel<3, 2>},
                                                    {panel_kernel<4, 1>, panel_kernel<4, 2>, panel_kernel<4, 2>},
                                                    {panel_kernel<5, 1>, panel_kernel<5, 1>, panel_kernel<5, 1>},
                                                    {panel_kernel<6, 1>, panel_kernel<6, 1>, panel_kernel<6, 1>},
                                                    {panel_kernel<7, 1>, panel_kernel<7, 1>, panel_kernel<7, 1>},
                                                    {panel_kernel<8, 1>, panel_kernel<8, 1>, panel_kernel<8, 1>}};
constexpr int kPanelsOf[3] = {1, 2, 4};

// The panels one call takes for `rows` rows (index into kKernels' second axis).
int panel_choice(std::int64_t rows) { return rows <= 2 ? 2 : (rows <= 4 ? 1 : 0); }

__mmask16 lanes_mask(std::int64_t valid) {
  return static_cast<__mmask16>(valid >= 16 ? 0xFFFF : (valid <= 0 ? 0 : (1u << valid) - 1));
}

void run_unit(std::span<const PackedProduct> products, const Unit& unit, const FinishedBlock& finished) {
  const PackedWeights& first = *products.front().weights;
  const std::int64_t inputs = first.inputs(), outputs = first.outputs();
  const std::int64_t first_output = unit.panel * kPanel;
  const std::int64_t output_count = std::min(outputs, (unit.panel + unit.panels) * kPanel) - first_output;
  const std::int64_t panel_stride = inputs * kPanel;
  const std::int64_t bytes_per_input =
      static_cast<std::int64_t>(products.size()) * unit.panels * kPanel * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t depth_block = std::max<std::int64_t>(64, kSliceBytes / bytes_per_input / 64 * 64);
  for (std::int64_t k0 = 0; k0 < inputs || k0 == 0; k0 += depth_block) {
    const std::int64_t k1 = std::min(inputs, k0 + depth_block);
    const bool last_depth_block = k1 == inputs;
    for (std::int64_t r = unit.row; r < unit.row + unit.rows; r += kRowBlock) {
      const std::int64_t rows = std::min(kRowBlock, unit.row + unit.rows - r);
      for (const PackedProduct& product : products) {
        const std::int64_t out_stride = product.out->dim(1);
        const std::int64_t end = unit.panel + unit.panels;
        for (std::int64_t p = unit.panel; p < end;) {
          int choice = panel_choice(rows);
          while (p + kPanelsOf[choice] > end) --choice;  // the band's last panels one by one
          __mmask16 masks[8];
          for (int h = 0; h < 2 * kPanelsOf[choice]; ++h) masks[h] = lanes_mask(outputs - p * kPanel - 16 * h);
          kKernels[rows][choice](product.inputs->data() + r * inputs, inputs, product.weights->panel(p), panel_stride,
                                 k0, k1, product.out->data() + r * out_stride + p * kPanel, out_stride, masks, k0 > 0);
          p += kPanelsOf[choice];
        }
      }
      if (last_depth_block && finished) finished(r, rows, first_output, output_count);
    }
  }
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
#if defined(__AVX512F__)
  const std::vector<Unit> units = units_of(rows, shape.panels());
  const double work = static_cast<double>(rows) * static_cast<double>(shape.outputs()) *
                      static_cast<double>(shape.inputs()) * static_cast<double>(products.size());
  const auto count = static_cast<std::int64_t>(units.size());
#pragma omp parallel for schedule(static) if (count > 1 && work > kParallelWork)
  for (std::int64_t u = 0; u < count; ++u) run_unit(products, units[static_cast<std::size_t>(u)], finished);
#else
  // Eigen's sums depend on the block shape: matmul_transposed's bands, which follow the shape
  // only, keep the results independent of the thread count.
  for_each_product_band(
      rows, shape.outputs(), shape.inputs(), [&](std::int64_t r, std::int64_t m, std::int64_t c, std::int64_t n) {
        for (const PackedProduct& product : products) {
          matmul_transposed_band(*product.inputs, product.weights->unpacked(), *product.out, r, m, c, n);
        }
        if (finished) finished(r, m, c, n);
      });
#endif
}

}  // namespace tessera::simulator
