// Affine quantizers with the seeds' (AIMET's) interface: QuantizeDequantize (fake quant),
// Quantize (integer levels) and Dequantize, per-tensor, per-channel or per-block.
//   QuantizeDequantize qdq({.shape = {64, 1}, .bitwidth = 8, .symmetric = true});  // per row
//   { auto calibration = qdq.compute_encodings(); for (auto& batch : data) qdq(batch); }
//   Tensor y = qdq(x);
// Calls are serialised (call_lock.hpp): threads may share a quantizer, also while calibrating.
// While calibrating, a quantizer observes its inputs and returns them unchanged (like torch's
// observers); when the calibration scope ends every encoding is fixed from its estimator.
// NaN inputs stay NaN; +-Inf saturate to the grid ends (fake_quant_kernel.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "tessera/parameters/quantization.hpp"
#include "tessera/simulator/affine_encoding.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/call_lock.hpp"
#include "tessera/simulator/range_estimators.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

struct QuantizerOptions {
  Shape shape{};                    ///< encoding shape, right-aligned to the data; {} = per-tensor
  int bitwidth = 8;                 ///< 1..16 (up to 32 for accumulators and biases)
  bool symmetric = false;           ///< zero point fixed at the grid centre
  std::optional<bool> is_signed{};  ///< signed grid; default: signed iff symmetric
  Shape block_size{};               ///< per-block sizes per data dim (-1 = infer); {} = broadcast
  parameters::RangeEstimator range_estimator = parameters::RangeEstimator::current_minmax;  ///< calibration
  parameters::RangeEstimatorParameters range_estimator_params{};                            ///< its knobs
};

/// Encoding shape for one encoding per slice along `axis` of a rank-`rank` tensor.
Shape per_channel_shape(const Shape& data_shape, int axis);

/// The options of an activation quantizer configured by a QuantizationMap entry (n_bits > 0).
QuantizerOptions activation_quantizer_options(const parameters::ActivationQuantConfig& config);

/// The options of a weight quantizer configured by a QuantizationMap entry (n_bits > 0), for a
/// weight of `weight_shape` whose output channels run along `output_axis` (per_channel).
QuantizerOptions weight_quantizer_options(const parameters::WeightQuantConfig& config, const Shape& weight_shape,
                                          int output_axis);

class AffineQuantizer {
 public:
  explicit AffineQuantizer(QuantizerOptions options);
  virtual ~AffineQuantizer() = default;
  AffineQuantizer(const AffineQuantizer&) = delete;
  AffineQuantizer& operator=(const AffineQuantizer&) = delete;

  /// Backend::cuda runs quantize-dequantize of per-tensor and per-channel encodings up to 16
  /// bits on the device (same element function, same bits); everything else stays on the CPU.
  /// Throws, naming the reason, when no CUDA device is usable.
  void set_backend(Backend backend);
  Backend backend() const { return backend_; }

  const QuantizerOptions& options() const { return options_; }
  const QuantGrid& grid() const { return grid_; }
  std::int64_t encoding_count() const { return element_count(options_.shape); }

  /// True once every encoding has been set by hand or by calibration.
  bool is_initialized() const { return initialized_; }
  /// Sets each encoding from a clipping range, as AIMET's min/max parameters.
  void set_range(std::span<const float> min, std::span<const float> max);
  /// Sets each encoding directly.
  void set_encodings(std::span<const float> scale, std::span<const std::int64_t> zero_point);
  const std::vector<float>& scale() const { return scale_; }
  const std::vector<std::int64_t>& zero_point() const { return zero_point_; }
  /// AIMET's offset: -zero_point.
  std::vector<std::int64_t> offset() const;
  /// The clipping ranges the encodings represent.
  std::vector<float> min() const;
  std::vector<float> max() const;

  /// Starts calibration: forward calls observe their inputs and pass them through.
  void begin_calibration();
  /// Fixes every encoding from its estimator; throws if an encoding saw no finite data.
  void end_calibration();
  bool is_calibrating() const { return calibrating_; }

  /// RAII form of begin/end_calibration (AIMET's `with q.compute_encodings():`).
  class CalibrationScope {
   public:
    explicit CalibrationScope(AffineQuantizer& quantizer) : quantizer_(&quantizer) { quantizer_->begin_calibration(); }
    CalibrationScope(const CalibrationScope&) = delete;
    CalibrationScope& operator=(const CalibrationScope&) = delete;
    /// Ends calibration now, reporting errors (the destructor swallows them).
    void finish();
    ~CalibrationScope();

   private:
    AffineQuantizer* quantizer_;
  };
  [[nodiscard]] CalibrationScope compute_encodings() { return CalibrationScope(*this); }

 protected:
  enum class Output { levels, dequantized };
  /// Applies the quantizer to `input` (observing it instead while calibrating).
  Tensor apply(const Tensor& input, Output output);

 private:
  void observe(const Tensor& input);
  void require_ready(const Tensor& input) const;

  QuantizerOptions options_;
  QuantGrid grid_;
  std::vector<float> scale_;
  std::vector<std::int64_t> zero_point_;
  bool initialized_ = false;
  bool calibrating_ = false;
  Backend backend_ = Backend::cpu;
  std::vector<std::unique_ptr<RangeEstimatorBase>> estimators_;
  CallLock lock_;  ///< serialises calibration and quantization from several threads
};

/// x -> dequantize(quantize(x)): float in, float out, on the quantization grid.
class QuantizeDequantize : public AffineQuantizer {
 public:
  using AffineQuantizer::AffineQuantizer;
  Tensor operator()(const Tensor& input) { return apply(input, Output::dequantized); }
};

/// x -> integer levels q (held exactly in float for grids up to 24 bits).
class Quantize : public AffineQuantizer {
 public:
  using AffineQuantizer::AffineQuantizer;
  Tensor operator()(const Tensor& input) { return apply(input, Output::levels); }
};

/// Integer levels -> (q - zero_point) * scale, with the encodings of a quantizer.
class Dequantize {
 public:
  explicit Dequantize(const AffineQuantizer& encodings);
  Tensor operator()(const Tensor& levels) const;

 private:
  Shape shape_;
  Shape block_size_;
  QuantGrid grid_;
  std::vector<float> scale_;
  std::vector<std::int64_t> zero_point_;
};

}  // namespace tessera::simulator
