#include "tessera/tiles/analog_tile.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "batch_shape_check.hpp"
#include "tessera/simulator/matmul.hpp"
#include "tessera/simulator/tile_backend.hpp"
#include "tessera/simulator/weight_clip.hpp"
#include "tessera/simulator/weight_modifier.hpp"

namespace tessera::tiles {
namespace {

using parameters::BoundManagementType;
using parameters::IOParameters;

// Settings the config accepts but this tile does not simulate yet: refused, never ignored.
void reject_unsupported(const IOParameters& io) {
  auto refuse = [](const std::string& what) {
    throw std::invalid_argument("AnalogTile does not support " + what + " yet");
  };
  if (io.mv_type == parameters::AnalogMVType::POS_NEG_SEPARATE ||
      io.mv_type == parameters::AnalogMVType::POS_NEG_SEPARATE_DIGITAL_SUM) {
    refuse("forward.mv_type " + std::string(parameters::enum_name(io.mv_type)));
  }
  if (io.bound_management == BoundManagementType::ITERATIVE_WORST_CASE ||
      io.bound_management == BoundManagementType::SHIFT) {
    refuse("forward.bound_management " + std::string(parameters::enum_name(io.bound_management)));
  }
  if (io.slope_calibration > 0.0) refuse("forward.slope_calibration > 0");
  if (io.v_offset_std > 0.0) refuse("forward.v_offset_std > 0");
  if (io.r_series > 0.0) refuse("forward.r_series > 0");
  if (io.w_read_asymmetry_dtod > 0.0) refuse("forward.w_read_asymmetry_dtod > 0");
}

// A tile holds its weight matrix several times over (targets, effective weights, the packed
// copy the product reads, |W|, conductances and drift coefficients): refused before the first
// allocation when that cannot fit, instead of being killed by the system halfway through.
// What the config's drift compensation asks for. The variant is closed: a compensation type
// added to the config must say here what it is.
struct CompensationSettings {
  bool active = false;
  bool global = false;  ///< one factor for the whole tile, else one per output
  bool exact_reference = false;
  parameters::CompensationReadout readout = parameters::CompensationReadout::MEAN_ABS;
  int reads = 1;
};

CompensationSettings compensation_settings(const parameters::DriftCompensation& compensation) {
  return std::visit(
      [](const auto& chosen) {
        using Chosen = std::decay_t<decltype(chosen)>;
        if constexpr (std::is_same_v<Chosen, parameters::GlobalDriftCompensation> ||
                      std::is_same_v<Chosen, parameters::PerColumnDriftCompensation>) {
          return CompensationSettings{true, std::is_same_v<Chosen, parameters::GlobalDriftCompensation>,
                                      chosen.exact_reference, chosen.readout, chosen.reads};
        } else if constexpr (std::is_same_v<Chosen, parameters::NoDriftCompensation>) {
          return CompensationSettings{};
        } else {
          static_assert(sizeof(Chosen) == 0, "a drift compensation without a readout");
        }
      },
      compensation);
}

// Per output (or, global, one) mean over the read of |a| (partner == nullptr) or of a * partner.
std::vector<double> summarise_read(const Tensor& read, const Tensor* partner, bool global) {
  const std::int64_t rows = read.dim(0), outputs = read.dim(1);
  std::vector<double> sums(static_cast<std::size_t>(outputs), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = read.data() + r * outputs;
    const float* other = partner == nullptr ? nullptr : partner->data() + r * outputs;
    for (std::int64_t i = 0; i < outputs; ++i) {
      sums[static_cast<std::size_t>(i)] +=
          other == nullptr ? std::abs(row[i]) : static_cast<double>(row[i]) * static_cast<double>(other[i]);
    }
  }
  if (global) sums.assign(1, std::accumulate(sums.begin(), sums.end(), 0.0));
  const double count = static_cast<double>(global ? rows * outputs : rows);
  for (double& value : sums) value /= count;
  return sums;
}

simulator::Shape checked_tile_shape(std::int64_t out_size, std::int64_t in_size, std::string_view name) {
  AnalogTile::check_size(out_size, in_size, name);
  return {out_size, in_size};
}

}  // namespace

void AnalogTile::check_size(std::int64_t out_size, std::int64_t in_size, std::string_view name) {
  if (out_size < 1 || in_size < 1) {
    throw std::invalid_argument("tile sizes must be >= 1, got " + std::to_string(out_size) + " x " +
                                std::to_string(in_size));
  }
  const simulator::Shape shape{out_size, in_size};
  const std::int64_t elements = simulator::element_count(shape);  // refuses more than 2^32
  constexpr std::int64_t kCopies = 6;
  try {
    simulator::require_memory_bytes(elements * kCopies * static_cast<std::int64_t>(sizeof(float)),
                                    "tile '" + std::string(name) + "' of " + std::to_string(out_size) + " x " +
                                        std::to_string(in_size) + " (about " + std::to_string(kCopies) +
                                        " copies of its weights)");
  } catch (const std::length_error& error) {
    throw std::invalid_argument(error.what());
  }
}

AnalogTile::AnalogTile(std::int64_t out_size, std::int64_t in_size, parameters::InferenceRPUConfig config,
                       std::uint64_t seed, std::string_view name)
    : out_size_(out_size),
      in_size_(in_size),
      config_(std::move(config)),
      name_(name),
      stream_(simulator::RandomStream(seed).derive(name)),
      programming_(config_.noise_model) {
  mapping_.targets = Tensor(checked_tile_shape(out_size, in_size, name));
  effective_.values = Tensor({out_size, in_size});
  if (out_size < 1 || in_size < 1) {
    throw std::invalid_argument("tile sizes must be >= 1, got " + std::to_string(out_size) + " x " +
                                std::to_string(in_size));
  }
  reject_unsupported(config_.forward);
  const IOParameters& io = config_.forward;

  // Per-output device spread, drawn once per tile (aihwkit: fixed at construction).
  std::vector<float> spread(static_cast<std::size_t>(out_size));
  stream_.derive("output_noise_spread").fill_normal(spread);
  periphery_.output_noise_std.resize(spread.size());
  for (std::size_t i = 0; i < spread.size(); ++i) {
    periphery_.output_noise_std[i] = static_cast<float>(std::abs(io.out_noise * (1.0 + io.out_noise_std * spread[i])));
  }
  if (io.out_nonlinearity > 0.0) {
    stream_.derive("output_nonlinearity_spread").fill_normal(spread);
    const double bound = io.out_bound > 0.0 ? io.out_bound : 1.0;
    periphery_.output_nonlinearity.resize(spread.size());
    for (std::size_t i = 0; i < spread.size(); ++i) {
      periphery_.output_nonlinearity[i] =
          static_cast<float>(std::abs(io.out_nonlinearity / bound * (1.0 + io.out_nonlinearity_std * spread[i])));
    }
  }
  cpu_ = make_backend(simulator::Backend::cpu);
  effective_weights_changed();
}

std::unique_ptr<simulator::TileBackend> AnalogTile::make_backend(simulator::Backend kind) const {
  simulator::TileSpec spec;
  spec.out_size = out_size_;
  spec.in_size = in_size_;
  spec.periphery =
      simulator::periphery_settings(config_.forward, in_size_, !periphery_.output_nonlinearity.empty());
  spec.output_noise_std = periphery_.output_noise_std;
  spec.output_nonlinearity = periphery_.output_nonlinearity;
  return simulator::make_tile_backend(kind, std::move(spec), "tile '" + name_ + "'");
}

AnalogTile::~AnalogTile() = default;
AnalogTile::AnalogTile(AnalogTile&&) noexcept = default;
AnalogTile& AnalogTile::operator=(AnalogTile&&) noexcept = default;

void AnalogTile::set_weights(const Tensor& weights) {
  const auto held = lock_.hold();
  if (weights.shape() != simulator::Shape{out_size_, in_size_}) {
    throw std::invalid_argument("tile '" + name_ + "' expects weights of shape " +
                                simulator::shape_to_string({out_size_, in_size_}) + ", got " +
                                simulator::shape_to_string(weights.shape()));
  }
  // Hardware cannot hold NaN or Inf; they would turn every output of the tile into NaN.
  for (std::int64_t k = 0; k < weights.size(); ++k) {
    if (!std::isfinite(weights[k])) {
      throw std::invalid_argument("tile '" + name_ + "': weight [" + std::to_string(k / in_size_) + ", " +
                                  std::to_string(k % in_size_) + "] is " + std::to_string(weights[k]) +
                                  " (weights must be finite)");
    }
  }
  mapping_.targets = weights;
  mapping_.scales.clear();
  const parameters::MappingParameter& mapping = config_.mapping;
  if (mapping.weight_scaling_omega > 0.0) {
    // aihwkit's weight scaling is a layerwise or channelwise remapping to omega.
    parameters::WeightRemapParameter remap;
    remap.remapped_wmax = mapping.weight_scaling_omega;
    remap.type = mapping.weight_scaling_columnwise ? parameters::WeightRemapType::CHANNELWISE_SYMMETRIC
                                                   : parameters::WeightRemapType::LAYERWISE_SYMMETRIC;
    mapping_.scales = simulator::remap_weights(mapping_.targets, remap);
  }
  target_weights_changed();
}

void AnalogTile::target_weights_changed() {
  effective_.values = mapping_.targets;
  programming_.programmed = false;
  compensation_ = Compensation{};
  effective_weights_changed();
}

Tensor AnalogTile::logical_weights() const {
  const auto held = lock_.hold();
  Tensor logical = mapping_.targets;
  for (std::size_t i = 0; i < mapping_.scales.size(); ++i) {
    for (std::int64_t j = 0; j < in_size_; ++j)
      logical[static_cast<std::int64_t>(i) * in_size_ + j] *= mapping_.scales[i];
  }
  return logical;
}

void AnalogTile::post_update_step() {
  const auto held = lock_.hold();
  simulator::clip_weights(mapping_.targets, config_.clip);
  const std::vector<float> factors = simulator::remap_weights(mapping_.targets, config_.remap);
  if (config_.remap.type != parameters::WeightRemapType::NONE) {
    if (mapping_.scales.empty()) mapping_.scales.assign(factors.size(), 1.0f);
    for (std::size_t i = 0; i < factors.size(); ++i) mapping_.scales[i] *= factors[i];
  }
  target_weights_changed();
}

bool AnalogTile::needs_weight_magnitudes() const {
  const auto& io = config_.forward;
  return (io.w_noise > 0.0 && io.w_noise_type == parameters::WeightNoiseType::PCM_READ) || io.ir_drop > 0.0;
}

void AnalogTile::set_backend(simulator::Backend backend) {
  const auto held = lock_.hold();
  if (backend == simulator::Backend::cpu) {
    device_.reset();
  } else if (!device_) {
    device_ = make_backend(backend);
  }
}

void AnalogTile::effective_weights_changed() {
  effective_.version = ++last_version_;
  if (needs_weight_magnitudes()) {
    effective_.magnitudes.resize(effective_.values.shape());
    for (std::int64_t k = 0; k < effective_.values.size(); ++k)
      effective_.magnitudes[k] = std::abs(effective_.values[k]);
  }
}

simulator::TileWeights AnalogTile::mvm_weights(const Tensor& values, const Tensor& magnitudes,
                                               std::uint64_t version) const {
  return {&values, needs_weight_magnitudes() ? &magnitudes : nullptr, version};
}

void AnalogTile::set_bias(std::span<const float> bias) {
  const auto held = lock_.hold();
  if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != out_size_) {
    throw std::invalid_argument("tile '" + name_ + "' expects " + std::to_string(out_size_) + " bias values, got " +
                                std::to_string(bias.size()));
  }
  for (std::size_t k = 0; k < bias.size(); ++k) {
    if (!std::isfinite(bias[k])) {
      throw std::invalid_argument("tile '" + name_ + "': bias [" + std::to_string(k) + "] is " +
                                  std::to_string(bias[k]) + " (the bias must be finite)");
    }
  }
  mapping_.bias.assign(bias.begin(), bias.end());
}

void AnalogTile::set_effective_from_conductances(std::span<const float> conductances) {
  programming_.converter.to_weights(conductances, programming_.conductance_scale, effective_.values.values());
  effective_weights_changed();
}

void AnalogTile::program() {
  const auto held = lock_.hold();
  Programming& p = programming_;
  std::vector<float>& targets = p.workspace;
  p.conductance_scale = p.converter.to_conductances(mapping_.targets.values(), targets);
  p.conductances.resize(targets.size());
  p.drift_coefficients.resize(targets.size());
  p.noise_model->program(targets, p.conductances, stream_.derive("programming"));
  p.noise_model->drift_coefficients(targets, p.drift_coefficients, stream_.derive("drift_coefficients"));
  p.programmed = true;
  set_effective_from_conductances(p.conductances);
  compensation_ = Compensation{};
  const CompensationSettings compensation = compensation_settings(config_.drift_compensation);
  if (!compensation.active) return;
  const simulator::RandomStream readouts = stream_.derive("drift_compensation");
  if (compensation.readout == parameters::CompensationReadout::MEAN_ABS) {
    // aihwkit: mean |y| of the read at programming (or of the ideal weights: the identity's
    // noise-free read is W itself), clamped at 1e-4 as aihwkit does.
    compensation_.baseline =
        compensation.exact_reference
            ? summarise_read(ideal_read(), nullptr, compensation.global)
            : clamped(summarise_read(read_identity(readouts.derive("baseline"), compensation.reads), nullptr,
                                     compensation.global));
    return;
  }
  // Correlation: keep one reference read; the baseline is its product with a second,
  // independent read (or, exact, the ideal read with itself), so noise does not inflate it.
  compensation_.reference =
      compensation.exact_reference ? ideal_read() : read_identity(readouts.derive("baseline"), compensation.reads);
  const Tensor second = compensation.exact_reference
                            ? compensation_.reference
                            : read_identity(readouts.derive("baseline_second"), compensation.reads);
  compensation_.baseline = summarise_read(compensation_.reference, &second, compensation.global);
}

void AnalogTile::drift(double t_inference) {
  const auto held = lock_.hold();
  if (!(t_inference >= 0.0) || !std::isfinite(t_inference)) {
    throw std::invalid_argument("t_inference must be a finite time >= 0 s, got " +
                                parameters::format_number(t_inference));
  }
  if (!programming_.programmed) program();
  Programming& p = programming_;
  std::uint64_t time_key = 0;
  std::memcpy(&time_key, &t_inference, sizeof time_key);  // noise depends on the time only
  p.workspace.resize(p.conductances.size());
  p.noise_model->drift(p.conductances, p.drift_coefficients, t_inference, p.workspace,
                       stream_.derive("read_noise").derive(time_key));
  set_effective_from_conductances(p.workspace);
  if (compensation_.baseline.empty()) return;
  compensation_.factors.clear();
  const CompensationSettings compensation = compensation_settings(config_.drift_compensation);
  const Tensor read = read_identity(stream_.derive("drift_compensation").derive(time_key), compensation.reads);
  const bool correlation = compensation.readout == parameters::CompensationReadout::CORRELATION;
  const std::vector<double> current = correlation ? summarise_read(read, &compensation_.reference, compensation.global)
                                                  : clamped(summarise_read(read, nullptr, compensation.global));
  compensation_.factors.resize(current.size());
  for (std::size_t i = 0; i < current.size(); ++i) {
    const double baseline = compensation_.baseline[i];
    // Correlation: a column whose reference reads nothing but noise has nothing to compensate
    // (factor 1); a read that lost its correlation with the reference is capped at 1000.
    compensation_.factors[i] = !correlation      ? static_cast<float>(baseline / current[i])
                               : baseline <= 0.0 ? 1.0f
                                                 : static_cast<float>(baseline / std::max(current[i], 1e-3 * baseline));
  }
}

Tensor AnalogTile::ideal_read() const {
  Tensor read({in_size_, out_size_});  // the identity's noise-free read: W transposed
  for (std::int64_t i = 0; i < out_size_; ++i) {
    for (std::int64_t j = 0; j < in_size_; ++j) read[j * out_size_ + i] = mapping_.targets[i * in_size_ + j];
  }
  return read;
}

std::vector<double> AnalogTile::clamped(std::vector<double> means) {
  // aihwkit clamps the readout at 1e-4 so a dead tile does not divide by zero.
  for (double& value : means) value = std::max(value, 1e-4);
  return means;
}

Tensor AnalogTile::read_identity(const simulator::RandomStream& stream, int reads) {
  Tensor read({in_size_, out_size_});
  const simulator::TileWeights weights = mvm_weights(effective_.values, effective_.magnitudes, effective_.version);
  Tensor readout_inputs;
  // The identity goes through in blocks of rows (the noise is addressed by row, so the result
  // is the same as one pass) to keep the workspaces small. Read k > 0 draws from its own
  // stream; the first is the single read's, so reads = 1 is aihwkit's readout as before.
  constexpr std::int64_t kRowsPerBlock = 256;
  for (int k = 0; k < reads; ++k) {
    const simulator::RandomStream read_stream = k == 0 ? stream : stream.derive("read " + std::to_string(k));
    for (std::int64_t first = 0; first < in_size_; first += kRowsPerBlock) {
      const std::int64_t rows = std::min(kRowsPerBlock, in_size_ - first);
      readout_inputs.resize({rows, in_size_});
      std::fill(readout_inputs.values().begin(), readout_inputs.values().end(), 0.0f);
      for (std::int64_t r = 0; r < rows; ++r) readout_inputs[r * in_size_ + first + r] = 1.0f;
      const Tensor block = run_forward(readout_inputs, weights, static_cast<std::uint64_t>(first), read_stream,
                                       /*digital_post_processing=*/false, /*identity_input=*/true);
      float* target = read.data() + first * out_size_;
      for (std::int64_t i = 0; i < rows * out_size_; ++i) target[i] = k == 0 ? block[i] : target[i] + block[i];
    }
  }
  if (reads > 1) {
    for (float& value : read.values()) value /= static_cast<float>(reads);
  }
  return read;
}

}  // namespace tessera::tiles

namespace tessera::tiles {

std::vector<float> AnalogTile::output_factors(bool digital_post_processing) const {
  std::vector<float> factors(static_cast<std::size_t>(out_size_), static_cast<float>(config_.forward.out_scale));
  if (!digital_post_processing) return factors;
  for (std::size_t i = 0; i < factors.size(); ++i) {
    if (!mapping_.scales.empty()) factors[i] *= mapping_.scales[i];
    const std::vector<float>& compensation = compensation_.factors;
    if (!compensation.empty()) factors[i] *= compensation[compensation.size() == 1 ? 0 : i];
  }
  return factors;
}

simulator::OutputFinish AnalogTile::output_finish(bool digital_post_processing) const {
  return {output_factors(digital_post_processing), digital_post_processing ? mapping_.bias : std::vector<float>()};
}

simulator::TileWeights AnalogTile::forward_weights(std::uint64_t first_sample) {
  const parameters::WeightModifierParameter& modifier = config_.modifier;
  Training& t = training_;
  t.last_forward_modified = simulator::modifies_weights(modifier) && (t.enabled || modifier.enable_during_test);
  if (!t.last_forward_modified) return mvm_weights(effective_.values, effective_.magnitudes, effective_.version);
  simulator::modify_weights(effective_.values, t.modified, modifier,
                            stream_.derive("weight_modifier").derive(first_sample));
  if (needs_weight_magnitudes()) {
    t.modified_magnitudes.resize(t.modified.shape());
    for (std::int64_t k = 0; k < t.modified.size(); ++k) t.modified_magnitudes[k] = std::abs(t.modified[k]);
  }
  return mvm_weights(t.modified, t.modified_magnitudes, ++last_version_);  // new values on every call
}

Tensor AnalogTile::scale_outputs(const Tensor& grad_output) const {
  Tensor scaled = grad_output;
  const std::vector<float> factors = output_factors(/*digital_post_processing=*/true);
  for (std::int64_t b = 0; b < scaled.dim(0); ++b) {
    for (std::int64_t i = 0; i < out_size_; ++i) scaled[b * out_size_ + i] *= factors[static_cast<std::size_t>(i)];
  }
  return scaled;
}

Tensor AnalogTile::backward(const Tensor& grad_output) const {
  const auto held = lock_.hold();
  check_batch_shape("tile '" + name_ + "'", "grad_output", grad_output, out_size_);
  const Tensor scaled = scale_outputs(grad_output);
  Tensor grad_input({grad_output.dim(0), in_size_});
  simulator::matmul(scaled, training_.last_forward_modified ? training_.modified : effective_.values, grad_input);
  return grad_input;
}

Tensor AnalogTile::weight_gradient(const Tensor& input, const Tensor& grad_output) const {
  const auto held = lock_.hold();
  check_batch_shape("tile '" + name_ + "'", "input", input, in_size_);
  check_batch_shape("tile '" + name_ + "'", "grad_output", grad_output, out_size_);
  if (input.dim(0) != grad_output.dim(0)) {
    throw std::invalid_argument("tile '" + name_ + "': input has " + std::to_string(input.dim(0)) +
                                " samples but grad_output has " + std::to_string(grad_output.dim(0)));
  }
  const Tensor scaled = scale_outputs(grad_output);
  Tensor gradient({out_size_, in_size_});
  simulator::matmul_left_transposed(scaled, input, gradient);
  return gradient;
}

}  // namespace tessera::tiles
