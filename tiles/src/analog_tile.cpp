#include "tessera/tiles/analog_tile.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

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
  if (io.ir_drop > 0.0) refuse("forward.ir_drop > 0");
  if (io.slope_calibration > 0.0) refuse("forward.slope_calibration > 0");
  if (io.v_offset_std > 0.0) refuse("forward.v_offset_std > 0");
  if (io.r_series > 0.0) refuse("forward.r_series > 0");
  if (io.w_read_asymmetry_dtod > 0.0) refuse("forward.w_read_asymmetry_dtod > 0");
}

}  // namespace

AnalogTile::AnalogTile(std::int64_t out_size, std::int64_t in_size, parameters::InferenceRPUConfig config,
                       std::uint64_t seed, std::string_view name)
    : out_size_(out_size),
      in_size_(in_size),
      config_(std::move(config)),
      name_(name),
      stream_(simulator::RandomStream(seed).derive(name)),
      weights_({out_size, in_size}),
      effective_weights_({out_size, in_size}) {
  if (out_size < 1 || in_size < 1) {
    throw std::invalid_argument("tile sizes must be >= 1, got " + std::to_string(out_size) + " x " +
                                std::to_string(in_size));
  }
  reject_unsupported(config_.forward);
  const IOParameters& io = config_.forward;

  // Per-output device spread, drawn once per tile (aihwkit: fixed at construction).
  std::vector<float> spread(static_cast<std::size_t>(out_size));
  stream_.derive("output_noise_spread").fill_normal(spread);
  output_noise_std_.resize(spread.size());
  for (std::size_t i = 0; i < spread.size(); ++i) {
    output_noise_std_[i] = static_cast<float>(std::abs(io.out_noise * (1.0 + io.out_noise_std * spread[i])));
  }
  if (io.out_nonlinearity > 0.0) {
    stream_.derive("output_nonlinearity_spread").fill_normal(spread);
    const double bound = io.out_bound > 0.0 ? io.out_bound : 1.0;
    output_nonlinearity_.resize(spread.size());
    for (std::size_t i = 0; i < spread.size(); ++i) {
      output_nonlinearity_[i] =
          static_cast<float>(std::abs(io.out_nonlinearity / bound * (1.0 + io.out_nonlinearity_std * spread[i])));
    }
  }
}

void AnalogTile::set_weights(const Tensor& weights) {
  if (weights.shape() != simulator::Shape{out_size_, in_size_}) {
    throw std::invalid_argument("tile '" + name_ + "' expects weights of shape " +
                                simulator::shape_to_string({out_size_, in_size_}) + ", got " +
                                simulator::shape_to_string(weights.shape()));
  }
  weights_ = weights;
  effective_weights_ = weights;
  effective_weights_changed();
}

void AnalogTile::effective_weights_changed() {
  const auto& io = config_.forward;
  if (io.w_noise > 0.0 && io.w_noise_type == parameters::WeightNoiseType::PCM_READ) {
    abs_effective_weights_.resize(effective_weights_.shape());
    for (std::int64_t k = 0; k < effective_weights_.size(); ++k) abs_effective_weights_[k] = std::abs(effective_weights_[k]);
  }
}

void AnalogTile::set_bias(std::span<const float> bias) {
  if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != out_size_) {
    throw std::invalid_argument("tile '" + name_ + "' expects " + std::to_string(out_size_) + " bias values, got " +
                                std::to_string(bias.size()));
  }
  bias_.assign(bias.begin(), bias.end());
}

}  // namespace tessera::tiles
