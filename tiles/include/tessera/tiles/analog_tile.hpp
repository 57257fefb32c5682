// One simulated crossbar tile running y = f(W x) with aihwkit's InferenceTile semantics: the
// forward pass applies noise management, DAC, MVM, per-MVM weight noise, output noise, ADC and
// iterative bound management to a whole batch at once (one GEMM per bound-management round,
// vectorised over samples), then the digital output scale and bias.
//   AnalogTile tile(64, 128, InferenceRPUConfig{}, /*seed=*/1, "features.0");
//   tile.set_weights(w);              // [out, in]
//   Tensor y = tile.forward(x);       // [batch, in] -> [batch, out]
// Threads: calls are serialised (simulator/call_lock.hpp); accessors returning references are
// for a tile no other thread changes meanwhile.
// Randomness: every draw is addressed by (seed, tile name, purpose, sample index, element), and
// the sample index counts all samples this tile has seen, so splitting a batch over several
// calls, or over threads, gives bit-identical results. The one exception is AVERAGE_ABS_MAX
// noise management, whose running average (as in aihwkit) depends on the batches seen.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/parameters/rpu_config.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/call_lock.hpp"
#include "tessera/simulator/cuda_kernels.hpp"
#include "tessera/simulator/noise/conductance_converter.hpp"
#include "tessera/simulator/noise/device_noise_model.hpp"
#include "tessera/simulator/packed_product.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::tiles {

using simulator::Tensor;

class AnalogTile {
 public:
  /// Throws std::invalid_argument for bad sizes or for config settings not supported yet.
  AnalogTile(std::int64_t out_size, std::int64_t in_size, parameters::InferenceRPUConfig config, std::uint64_t seed = 0,
             std::string_view name = "tile");

  /// Throws std::invalid_argument for sizes below 1, or for weights whose copies a tile keeps
  /// would not fit the memory available (checked before anything is allocated).
  static void check_size(std::int64_t out_size, std::int64_t in_size, std::string_view name);

  std::int64_t out_size() const { return out_size_; }
  std::int64_t in_size() const { return in_size_; }
  const parameters::InferenceRPUConfig& config() const { return config_; }
  const std::string& name() const { return name_; }

  /// Sets the layer's weights, [out_size, in_size]. With mapping.weight_scaling_omega > 0 they
  /// are scaled so that max|W| (per row if weight_scaling_columnwise) becomes omega on the
  /// tile, and the factor is applied digitally to the outputs (mapping_scales()).
  void set_weights(const Tensor& weights);
  /// Target weights on the tile (after weight scaling and remapping), [out_size, in_size].
  const Tensor& weights() const { return weights_; }
  /// The weights the MVM uses (the targets until programming and drift change them).
  const Tensor& effective_weights() const { return effective_weights_; }
  /// Digital factor per output row that maps tile weights back to the layer's weights (weight
  /// scaling, remapping); empty when every factor is 1.
  const std::vector<float>& mapping_scales() const { return mapping_scales_; }
  /// The layer's weights: weights() with each row times its mapping scale.
  Tensor logical_weights() const;

  /// Digital bias added after the ADC (out_size values); empty = no bias.
  void set_bias(std::span<const float> bias);
  const std::vector<float>& bias() const { return bias_; }

  /// Maps the target weights to conductances (config.noise_model.g_converter) and applies
  /// programming noise; drift coefficients are drawn too. The effective weights become the
  /// programmed ones and the drift-compensation baseline is read.
  void program();
  /// Effective weights t_inference seconds after programming: drift and accumulated read noise
  /// from the programmed state (programs first if needed), and updated drift compensation.
  /// The noise drawn depends only on (seed, name, t_inference).
  void drift(double t_inference);
  bool is_programmed() const { return programmed_; }
  /// Drift-compensation factors applied to the outputs: one (global), one per output (per
  /// column), or none.
  const std::vector<float>& drift_compensation_factors() const { return compensation_; }

  /// Runs a batch [batch, in_size] -> [batch, out_size]. In training mode (or with
  /// modifier.enable_during_test) the MVM uses the effective weights perturbed by
  /// config.modifier, drawn afresh for every call (addressed by the call's first sample).
  Tensor forward(const Tensor& input);

  /// Where forward runs: Backend::cpu (default) or Backend::cuda (throws, naming the reason,
  /// when no CUDA device is usable). Results agree within float rounding (the noise draws are
  /// the same numbers; sums run in another order). Programming, drift and the drift-compensation
  /// readouts stay on the CPU.
  void set_backend(simulator::Backend backend);
  simulator::Backend backend() const { return engine_ ? simulator::Backend::cuda : simulator::Backend::cpu; }
  void set_training(bool training) {
    const auto held = lock_.hold();
    training_ = training;
  }
  bool is_training() const { return training_; }

  /// Ideal backward pass of the last forward call: the input gradient [batch, in_size] of
  /// y = f * (W x) for the weights that call used (modified in training), where f is the
  /// digital factor per output (out_scale, mapping scale, drift compensation). Periphery
  /// effects (DAC, ADC, noise) are treated as identity, as in straight-through training.
  Tensor backward(const Tensor& grad_output) const;
  /// Gradient of the loss with respect to weights() for a batch: (f * grad_output)^T input.
  Tensor weight_gradient(const Tensor& input, const Tensor& grad_output) const;
  /// What aihwkit does after each optimizer step: clip (config.clip), then remap
  /// (config.remap, whose factors join the mapping scales) the target weights.
  void post_update_step();
  /// Where the sample count of the next forward call starts (noise depends on it).
  void set_sample_counter(std::uint64_t next_sample) {
    const auto held = lock_.hold();
    samples_seen_ = next_sample;
  }
  std::uint64_t sample_counter() const { return samples_seen_; }

 private:
  struct Round;  // one bound-management round over the samples still active
  /// The weights one forward call multiplies with, and |W| where the noise or IR drop needs it.
  struct MvmWeights {
    const Tensor* values = nullptr;
    const Tensor* magnitudes = nullptr;
  };
  /// `digital_post_processing`: a user's forward (drift compensation and bias applied, the
  /// AVERAGE_ABS_MAX running value updated); false for drift-compensation readouts.
  /// `identity_input`: row a of the input is one-hot at column first_sample + a (a block of the
  /// identity matrix: a drift-compensation readout), which lets the MVM skip the GEMM when the
  /// DAC keeps its rows one-hot.
  Tensor run_forward(const Tensor& input, MvmWeights weights, std::uint64_t first_sample,
                     const simulator::RandomStream& stream, bool digital_post_processing, bool identity_input = false);
  /// The weights a user's forward call multiplies with (drawing the modifier in training).
  MvmWeights forward_weights(std::uint64_t first_sample);
  bool needs_weight_magnitudes() const;
  /// The drift-compensation reference read: the analog forward of the identity inputs,
  /// [in_size, out_size] (row r: the outputs for input one-hot at r), averaged over `reads`.
  Tensor read_identity(const simulator::RandomStream& stream, int reads);
  /// The noise-free read of the target weights (W transposed), for exact_reference.
  Tensor ideal_read() const;
  /// aihwkit's clamp of mean-|y| readouts at 1e-4.
  static std::vector<double> clamped(std::vector<double> means);
  /// Per-sample noise-management scales; `update_state` = false leaves AVERAGE_ABS_MAX's
  /// running value unchanged (readouts).
  struct NoiseChoice;   // which weight/output noise a forward adds, and in how many draws
  struct NoiseStreams;  // the streams a round draws that noise from
  struct Finish;        // the digital factors and bias after the ADC
  NoiseChoice noise_choice() const;
  simulator::cuda::RowStatistics row_statistics(const Tensor& input) const;
  simulator::cuda::RowStatistics identity_row_statistics(std::int64_t batch) const;
  std::vector<float> noise_management_scales(const simulator::cuda::RowStatistics& rows, bool update_state);
  void run_round_on_device(const Tensor& input, Round& round);
  /// One round on the CPU (cpu_round.cpp): every active row of round.outputs is computed and
  /// written, finished, to its row of `output`.
  void run_round_on_cpu(const Tensor& input, Round& round, Tensor& output, const Finish& finish);
  void prepare_inputs(const Tensor& input, Round& round);
  void one_hot_product(const Round& round, const Tensor& inputs, const Tensor& weights, Tensor& outputs, std::int64_t r,
                       std::int64_t m, std::int64_t c, std::int64_t n) const;
  void pack_weights(const MvmWeights& weights);
  void ideal_product(const Tensor& input, const MvmWeights& weights, Tensor& output, const Finish& finish);
  // Element-wise steps on outputs c..c+n of active sample a, whose values start at y.
  void apply_ir_drop(std::int64_t a, std::int64_t c, std::int64_t n, float* y) const;
  void add_analog_noise(const Round& round, const NoiseStreams& streams, std::int64_t a, std::int64_t c, std::int64_t n,
                        float* y, std::span<float> draws) const;
  bool digitize_outputs(const Round& round, const NoiseStreams& streams, std::int64_t a, std::int64_t c, std::int64_t n,
                        float* y, std::span<float> draws) const;
  /// Digital factor per output: out_scale, times the mapping scale and drift compensation for
  /// a user's forward (`digital_post_processing`).
  std::vector<float> output_factors(bool digital_post_processing) const;
  /// grad_output times the digital output factors (the chain rule through them).
  Tensor scale_outputs(const Tensor& grad_output) const;
  void set_effective_from_conductances(std::span<const float> conductances);
  /// The target weights changed: effective = targets again, programming and compensation reset.
  void target_weights_changed();
  /// Recomputes what depends on the effective weights (|W| for PCM_READ weight noise).
  void effective_weights_changed();

  std::int64_t out_size_;
  std::int64_t in_size_;
  parameters::InferenceRPUConfig config_;
  std::string name_;
  simulator::RandomStream stream_;
  Tensor weights_;
  Tensor effective_weights_;
  std::vector<float> bias_;
  std::vector<float> mapping_scales_;
  bool training_ = false;
  bool last_forward_modified_ = false;  ///< the last forward used modified_weights_
  Tensor modified_weights_;
  Tensor abs_modified_weights_;
  std::vector<float> output_noise_std_;     ///< per output: out_noise with its device spread
  std::vector<float> output_nonlinearity_;  ///< per output: n_i of y / (1 + n_i |y|)
  float average_abs_max_ = 0.0f;            ///< AVERAGE_ABS_MAX running value
  bool average_abs_max_started_ = false;
  std::uint64_t samples_seen_ = 0;
  Tensor abs_effective_weights_;  ///< |W|, for PCM_READ weight noise and IR drop
  // Programming and drift state.
  std::unique_ptr<simulator::DeviceNoiseModel> noise_model_;
  simulator::ConductanceConverter converter_;
  bool programmed_ = false;
  double conductance_scale_ = 1.0;  ///< uS per weight unit of the programmed state
  std::vector<float> programmed_conductances_;
  std::vector<float> drift_coefficients_;
  std::vector<double> compensation_baseline_;
  Tensor compensation_reference_;  ///< the kept reference read (CORRELATION readouts only)
  std::vector<float> compensation_;
  // Workspaces reused across forward calls (no allocation per call).
  Tensor dac_outputs_;
  Tensor round_outputs_;
  Tensor squared_inputs_;
  Tensor weight_variance_;
  std::vector<float> input_squared_norms_;
  Tensor ir_abs_inputs_;
  Tensor ir_positioned_inputs_;
  Tensor ir_currents_;
  Tensor ir_products_;
  Tensor readout_inputs_;
  std::vector<float> conductance_workspace_;
  simulator::PackedWeights packed_values_;               ///< the MVM weights packed for the CPU product
  simulator::PackedWeights packed_magnitudes_;           ///< their magnitudes, where needed
  const Tensor* packed_source_ = nullptr;                ///< what the packed copies hold, or null when stale
  std::unique_ptr<simulator::cuda::TileEngine> engine_;  ///< set when the backend is CUDA
  simulator::CallLock lock_;                             ///< serialises calls from several threads
  const Tensor* device_weights_ = nullptr;               ///< what engine_ holds, or null when stale
};

}  // namespace tessera::tiles
