#include "tessera/simulator/affine_quantizer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "tessera/parameters/checks.hpp"
#include "tessera/simulator/block_layout.hpp"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/fake_quant_kernel.hpp"

namespace tessera::simulator {
namespace {

// Long runs are cut into chunks of this many elements so one per-tensor encoding still
// spreads over threads; results are element-wise, so chunking cannot change them.
constexpr std::int64_t kChunk = 1 << 15;
// Layouts with at least this many rows are spread over threads row by row.
constexpr std::int64_t kManyRows = 64;
// Grids wider than this are evaluated in double: float cannot hold their levels exactly.
constexpr std::int64_t kFloatExactSteps = (1 << 16) - 1;

struct Run {
  std::int64_t first_element;
  std::int64_t length;
  std::int64_t first_encoding;
  std::int64_t encoding_step;
};

enum class Op { quantize, dequantize, quantize_dequantize };

// Kernel parameters as separate arrays, so a run with one encoding per element vectorises.
template <class Real>
struct EncodingArrays {
  std::vector<Real> scale;
  std::vector<Real> inv_scale;
  std::vector<Real> zero_point;
  Real qmin;
  Real qmax;

  FakeQuantParams<Real> at(std::int64_t i) const {
    const auto k = static_cast<std::size_t>(i);
    return {scale[k], inv_scale[k], zero_point[k], qmin, qmax};
  }
};

template <class Real>
EncodingArrays<Real> encoding_arrays(const std::vector<float>& scale, const std::vector<std::int64_t>& zero_point,
                                     const QuantGrid& grid) {
  EncodingArrays<Real> arrays{{}, {}, {}, static_cast<Real>(grid.qmin), static_cast<Real>(grid.qmax)};
  for (std::size_t i = 0; i < scale.size(); ++i) {
    arrays.scale.push_back(static_cast<Real>(scale[i]));
    // torch takes the reciprocal in float (inv_scale = 1.0f / scale) and multiplies.
    arrays.inv_scale.push_back(static_cast<Real>(1.0f / scale[i]));
    arrays.zero_point.push_back(static_cast<Real>(zero_point[i]));
  }
  return arrays;
}

template <class Real, Op kOp>
inline Real apply_element(Real x, const FakeQuantParams<Real>& p) {
  if constexpr (kOp == Op::quantize) return quantize_value(x, p);
  if constexpr (kOp == Op::dequantize) return dequantize_value(x, p);
  return quantize_dequantize_value(x, p);
}

template <class Real, Op kOp>
void apply_run(const float* in, float* out, const Run& run, const EncodingArrays<Real>& encodings) {
  const float* source = in + run.first_element;
  float* target = out + run.first_element;
  if (run.encoding_step == 0) {
    const FakeQuantParams<Real> p = encodings.at(run.first_encoding);
    for (std::int64_t i = 0; i < run.length; ++i) {
      target[i] = static_cast<float>(apply_element<Real, kOp>(static_cast<Real>(source[i]), p));
    }
    return;
  }
  const auto first = static_cast<std::size_t>(run.first_encoding);
  const Real* scale = encodings.scale.data() + first;
  const Real* inv_scale = encodings.inv_scale.data() + first;
  const Real* zero_point = encodings.zero_point.data() + first;
  for (std::int64_t i = 0; i < run.length; ++i) {
    const FakeQuantParams<Real> p{scale[i], inv_scale[i], zero_point[i], encodings.qmin, encodings.qmax};
    target[i] = static_cast<float>(apply_element<Real, kOp>(static_cast<Real>(source[i]), p));
  }
}

template <class Real, Op kOp>
void apply_all(const BlockLayout& layout, const float* in, float* out, const std::vector<float>& scale,
               const std::vector<std::int64_t>& zero_point, const QuantGrid& grid) {
  const EncodingArrays<Real> encodings = encoding_arrays<Real>(scale, zero_point, grid);
  const bool parallel = layout.element_count() > kChunk;
  if (layout.row_count() >= kManyRows) {
    layout.for_each_run(
        [&](std::int64_t first, std::int64_t length, std::int64_t encoding, std::int64_t step) {
          apply_run<Real, kOp>(in, out, Run{first, length, encoding, step}, encodings);
        },
        parallel);
    return;
  }
  // Few long rows (e.g. per-tensor): cut them into chunks so they still spread over threads.
  std::vector<Run> runs;
  layout.for_each_run([&](std::int64_t first, std::int64_t length, std::int64_t encoding, std::int64_t step) {
    for (std::int64_t begin = 0; begin < length; begin += kChunk) {
      runs.push_back({first + begin, std::min(kChunk, length - begin), encoding + step * begin, step});
    }
  });
  const auto count = static_cast<std::int64_t>(runs.size());
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t i = 0; i < count; ++i) apply_run<Real, kOp>(in, out, runs[i], encodings);
}

template <Op kOp>
Tensor transform(const Tensor& input, const Shape& encoding_shape, const Shape& block_size,
                 const std::vector<float>& scale, const std::vector<std::int64_t>& zero_point, const QuantGrid& grid) {
  const BlockLayout layout(input.shape(), encoding_shape, block_size);
  Tensor output(input.shape());
  if (grid.num_steps() <= kFloatExactSteps) {
    apply_all<float, kOp>(layout, input.data(), output.data(), scale, zero_point, grid);
  } else {
    apply_all<double, kOp>(layout, input.data(), output.data(), scale, zero_point, grid);
  }
  return output;
}

}  // namespace

Shape per_channel_shape(const Shape& data_shape, int axis) {
  const int rank = static_cast<int>(data_shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    throw std::invalid_argument("channel axis out of range for shape " + shape_to_string(data_shape));
  }
  Shape shape(data_shape.size(), 1);
  shape[static_cast<std::size_t>(axis)] = data_shape[static_cast<std::size_t>(axis)];
  return shape;
}

QuantizerOptions activation_quantizer_options(const parameters::ActivationQuantConfig& config) {
  QuantizerOptions options;
  options.bitwidth = config.n_bits;
  options.symmetric = config.symmetric;
  options.range_estimator = config.range_estimator;
  options.range_estimator_params = config.range_estimator_params;
  return options;
}

QuantizerOptions weight_quantizer_options(const parameters::WeightQuantConfig& config, const Shape& weight_shape,
                                          int output_axis) {
  QuantizerOptions options;
  options.bitwidth = config.n_bits;
  options.symmetric = config.symmetric;
  options.range_estimator = config.range_estimator;
  options.range_estimator_params = config.range_estimator_params;
  if (config.per_channel) options.shape = per_channel_shape(weight_shape, output_axis);
  return options;
}

AffineQuantizer::AffineQuantizer(QuantizerOptions options)
    : options_(std::move(options)),
      grid_(make_grid(options_.bitwidth, options_.is_signed.value_or(options_.symmetric))) {
  const std::int64_t count = encoding_count();
  if (count < 1) throw std::invalid_argument("quantizer shape " + shape_to_string(options_.shape) + " has no elements");
  if (!options_.block_size.empty()) {
    if (options_.shape.size() > options_.block_size.size()) {
      throw std::invalid_argument("quantizer shape " + shape_to_string(options_.shape) +
                                  " has more dimensions than block_size " + shape_to_string(options_.block_size));
    }
    for (std::int64_t block : options_.block_size) {
      if (block < 1 && block != -1) {
        throw std::invalid_argument("block_size entries must be >= 1 or -1 (infer), got " +
                                    shape_to_string(options_.block_size));
      }
    }
  }
  scale_.assign(static_cast<std::size_t>(count), 1.0f);
  zero_point_.assign(static_cast<std::size_t>(count), 0);
}

void AffineQuantizer::set_range(std::span<const float> min, std::span<const float> max) {
  const auto held = lock_.hold();
  const auto count = static_cast<std::size_t>(encoding_count());
  if (min.size() != count || max.size() != count) {
    throw std::invalid_argument("set_range needs " + std::to_string(count) + " min and max values, got " +
                                std::to_string(min.size()) + " and " + std::to_string(max.size()));
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(min[i]) || !std::isfinite(max[i]) || min[i] > max[i]) {
      throw std::invalid_argument("encoding " + std::to_string(i) + ": need finite min <= max, got [" +
                                  parameters::format_number(min[i]) + ", " + parameters::format_number(max[i]) + "]");
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const Encoding encoding = encoding_from_range({min[i], max[i]}, grid_, options_.symmetric);
    scale_[i] = encoding.scale;
    zero_point_[i] = encoding.zero_point;
  }
  initialized_ = true;
}

void AffineQuantizer::set_encodings(std::span<const float> scale, std::span<const std::int64_t> zero_point) {
  const auto held = lock_.hold();
  const auto count = static_cast<std::size_t>(encoding_count());
  if (scale.size() != count || zero_point.size() != count) {
    throw std::invalid_argument("set_encodings needs " + std::to_string(count) + " scales and zero points, got " +
                                std::to_string(scale.size()) + " and " + std::to_string(zero_point.size()));
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!(scale[i] > 0.0f) || !std::isfinite(scale[i])) {
      throw std::invalid_argument("encoding " + std::to_string(i) + ": scale must be finite and > 0, got " +
                                  parameters::format_number(scale[i]));
    }
    if (zero_point[i] < grid_.qmin || zero_point[i] > grid_.qmax) {
      throw std::invalid_argument("encoding " + std::to_string(i) + ": zero point " + std::to_string(zero_point[i]) +
                                  " outside the grid [" + std::to_string(grid_.qmin) + ", " +
                                  std::to_string(grid_.qmax) + "]");
    }
  }
  scale_.assign(scale.begin(), scale.end());
  zero_point_.assign(zero_point.begin(), zero_point.end());
  initialized_ = true;
}

std::vector<std::int64_t> AffineQuantizer::offset() const {
  const auto held = lock_.hold();
  std::vector<std::int64_t> offsets(zero_point_.size());
  for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] = -zero_point_[i];
  return offsets;
}

std::vector<float> AffineQuantizer::min() const {
  const auto held = lock_.hold();
  std::vector<float> values(scale_.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(range_from_encoding({scale_[i], zero_point_[i]}, grid_).min);
  }
  return values;
}

std::vector<float> AffineQuantizer::max() const {
  const auto held = lock_.hold();
  std::vector<float> values(scale_.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(range_from_encoding({scale_[i], zero_point_[i]}, grid_).max);
  }
  return values;
}

void AffineQuantizer::begin_calibration() {
  const auto held = lock_.hold();
  estimators_.clear();
  for (std::int64_t i = 0; i < encoding_count(); ++i) {
    estimators_.push_back(
        make_range_estimator(options_.range_estimator, options_.range_estimator_params, grid_, options_.symmetric));
  }
  calibrating_ = true;
}

void AffineQuantizer::end_calibration() {
  const auto held = lock_.hold();
  if (!calibrating_) throw std::logic_error("end_calibration() without begin_calibration()");
  calibrating_ = false;
  std::vector<float> scale(scale_.size());
  std::vector<std::int64_t> zero_point(zero_point_.size());
  for (std::size_t i = 0; i < estimators_.size(); ++i) {
    if (!estimators_[i]->has_data()) {
      estimators_.clear();
      throw std::runtime_error("calibration ended but encoding " + std::to_string(i) +
                               " observed no finite values; run data through the quantizer inside compute_encodings()");
    }
    const ClipRange range = adjust_range_for_grid(estimators_[i]->range(), grid_, options_.symmetric);
    const Encoding encoding = encoding_from_range(range, grid_, options_.symmetric);
    scale[i] = encoding.scale;
    zero_point[i] = encoding.zero_point;
  }
  estimators_.clear();
  scale_ = std::move(scale);
  zero_point_ = std::move(zero_point);
  initialized_ = true;
}

void AffineQuantizer::CalibrationScope::finish() {
  if (quantizer_ != nullptr && quantizer_->is_calibrating()) {
    AffineQuantizer* quantizer = quantizer_;
    quantizer_ = nullptr;
    quantizer->end_calibration();
  }
}

AffineQuantizer::CalibrationScope::~CalibrationScope() {
  try {
    finish();
  } catch (...) {
    // A destructor must not throw; call finish() to see calibration errors.
  }
}

void AffineQuantizer::observe(const Tensor& input) {
  const BlockLayout layout(input.shape(), options_.shape, options_.block_size);
  std::vector<std::vector<float>> blocks(estimators_.size());
  const float* data = input.data();
  layout.for_each_run([&](std::int64_t first, std::int64_t length, std::int64_t encoding, std::int64_t step) {
    if (step == 0) {
      blocks[encoding].insert(blocks[encoding].end(), data + first, data + first + length);
    } else {
      for (std::int64_t i = 0; i < length; ++i) blocks[encoding + i].push_back(data[first + i]);
    }
  });
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (!blocks[i].empty()) estimators_[i]->observe(blocks[i]);
  }
}

void AffineQuantizer::require_ready(const Tensor& input) const {
  if (!initialized_) {
    throw std::logic_error("quantizer of shape " + shape_to_string(options_.shape) + " applied to a tensor of shape " +
                           shape_to_string(input.shape()) +
                           " before its encodings were set: call set_range(), set_encodings() or calibrate "
                           "inside compute_encodings()");
  }
}

void AffineQuantizer::set_backend(Backend backend) {
  const auto held = lock_.hold();
  if (backend == Backend::cuda) cuda::require_device("quantizer");
  backend_ = backend;
}

namespace {

// For encodings with at most one axis of more than one channel (per tensor or per channel):
// the number of data elements after that axis, so element e uses encoding (e / inner) % count.
std::optional<std::int64_t> channel_stride(const Shape& data, const Shape& encoding) {
  if (encoding.size() > data.size()) return std::nullopt;
  std::optional<std::size_t> axis;
  const std::size_t lead = data.size() - encoding.size();
  for (std::size_t k = 0; k < encoding.size(); ++k) {
    if (encoding[k] == 1) continue;
    if (axis) return std::nullopt;
    axis = lead + k;
  }
  std::int64_t inner = 1;
  for (std::size_t k = axis ? *axis + 1 : data.size(); k < data.size(); ++k) inner *= data[k];
  return inner;
}

}  // namespace

Tensor AffineQuantizer::apply(const Tensor& input, Output output) {
  const auto held = lock_.hold();
  if (calibrating_) {
    observe(input);
    return input;
  }
  require_ready(input);
  if (backend_ == Backend::cuda && output == Output::dequantized && options_.block_size.empty() &&
      options_.bitwidth <= 16) {
    if (const auto inner = channel_stride(input.shape(), options_.shape)) {
      return cuda::quantize_dequantize(input, scale_, zero_point_, grid_.qmin, grid_.qmax, *inner);
    }
  }
  if (output == Output::levels) {
    return transform<Op::quantize>(input, options_.shape, options_.block_size, scale_, zero_point_, grid_);
  }
  return transform<Op::quantize_dequantize>(input, options_.shape, options_.block_size, scale_, zero_point_, grid_);
}

Dequantize::Dequantize(const AffineQuantizer& encodings)
    : shape_(encodings.options().shape),
      block_size_(encodings.options().block_size),
      grid_(encodings.grid()),
      scale_(encodings.scale()),
      zero_point_(encodings.zero_point()) {
  if (!encodings.is_initialized()) throw std::logic_error("Dequantize needs a quantizer whose encodings are set");
}

Tensor Dequantize::operator()(const Tensor& levels) const {
  return transform<Op::dequantize>(levels, shape_, block_size_, scale_, zero_point_, grid_);
}

}  // namespace tessera::simulator
