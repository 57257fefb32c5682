// The device noise models, with aihwkit's formulas (inference/noise/{pcm,custom,reram}.py).
// g_r = g / g_max throughout; xi are standard normals.
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/simulator/fast_math.hpp"
#include "tessera/simulator/noise/device_noise_model.hpp"

namespace tessera::simulator {
namespace {

// Device loops are element-wise, so splitting them over threads cannot change results.
constexpr std::size_t kParallelDevices = 1 << 16;

double g_max_of(const parameters::ConductanceConverter& converter) {
  return std::visit([](const auto& c) { return c.g_max; }, converter);
}

// Runs body(first, count, xi) over blocks of devices [first, first + count) in parallel, with
// xi the standard normals of those devices from `stream`. The normals are addressed by device
// index, so they are the same as one fill of the whole range, without a device-sized buffer.
template <class Body>
void for_each_block(std::size_t size, const RandomStream& stream, Body body) {
  constexpr std::size_t kBlock = 4096;  // a multiple of the stream's 64-number chunks
  const std::size_t blocks = (size + kBlock - 1) / kBlock;
#pragma omp parallel if (size > kParallelDevices)
  {
    std::vector<float> xi(kBlock);
#pragma omp for schedule(static)
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t first = b * kBlock;
      const std::size_t count = std::min(kBlock, size - first);
      stream.fill_normal(std::span<float>(xi.data(), count), first);
      body(first, count, xi.data());
    }
  }
}

// sigma[k] = factor * sum_i c_i (g[k] / g_max)^i for one block, by Horner's rule with the
// coefficient loop outside so that the loop over devices vectorises.
void polynomial(const float* g, std::size_t count, double g_max, const std::vector<double>& coefficients, double factor,
                float* sigma) {
  std::fill(sigma, sigma + count, 0.0f);
  const auto inv_g_max = static_cast<float>(1.0 / g_max);
  for (auto c = coefficients.rbegin(); c != coefficients.rend(); ++c) {
    const auto coefficient = static_cast<float>(*c);
    for (std::size_t k = 0; k < count; ++k) sigma[k] = sigma[k] * (g[k] * inv_g_max) + coefficient;
  }
  const auto scale = static_cast<float>(factor);
  for (std::size_t k = 0; k < count; ++k) sigma[k] *= scale;
}

// g = max(g_T + sigma xi, 0) with sigma = factor * poly(coefficients, g_T / g_max).
void add_programming_noise(std::span<const float> target, double g_max, const std::vector<double>& coefficients,
                           double factor, std::span<float> programmed, const RandomStream& stream) {
  for_each_block(target.size(), stream, [&](std::size_t first, std::size_t count, const float* xi) {
    float* out = programmed.data() + first;
    polynomial(target.data() + first, count, g_max, coefficients, factor, out);  // sigma, in place
    for (std::size_t k = 0; k < count; ++k) out[k] = clamp_float(target[first + k] + out[k] * xi[k], 0.0f, 3.4e38f);
  });
}

// nu = |mean(g) + spread(g) xi| * scale for every device.
template <class MeanAndSpread>
void draw_drift_coefficients(std::span<const float> target, std::span<float> nu, float scale,
                             const RandomStream& stream, MeanAndSpread mean_and_spread) {
  for_each_block(target.size(), stream, [&](std::size_t first, std::size_t count, const float* xi) {
    for (std::size_t k = 0; k < count; ++k) {
      const auto [mean, spread] = mean_and_spread(target[first + k]);
      nu[first + k] = std::abs(mean + spread * xi[k]) * scale;
    }
  });
}

// Power-law drift g (t / t_0)^-nu = g exp(-nu ln(t / t_0)), then read noise
// |g_drift| read_sigma(g) sqrt(ln((t + t_read) / (2 t_read))) xi, clamped >= 0.
template <class ReadSigma>
void drift_with_read_noise(std::span<const float> programmed, std::span<const float> nu, double t_inference, double t_0,
                           double t_read, std::span<float> out, const RandomStream& stream, ReadSigma read_sigma) {
  const double t = t_inference + t_0;
  const auto log_time = static_cast<float>(t > t_0 ? std::log(t / t_0) : 0.0);
  const auto accumulated = static_cast<float>(std::sqrt(std::log((t + t_read) / (2.0 * t_read))));
  for_each_block(programmed.size(), stream, [&](std::size_t first, std::size_t count, const float* xi) {
    for (std::size_t k = 0; k < count; ++k) {
      const float g = programmed[first + k];
      const float g_drift = g * exp_float(-nu[first + k] * log_time);
      out[first + k] = clamp_float(g_drift + std::abs(g_drift) * read_sigma(g) * accumulated * xi[k], 0.0f, 3.4e38f);
    }
  });
}

class NullModel final : public DeviceNoiseModel {
 public:
  const parameters::ConductanceConverter& converter() const override { return converter_; }
  void program(std::span<const float> target, std::span<float> programmed, const RandomStream&) const override {
    std::copy(target.begin(), target.end(), programmed.begin());
  }
  void drift_coefficients(std::span<const float>, std::span<float> coefficients, const RandomStream&) const override {
    std::fill(coefficients.begin(), coefficients.end(), 0.0f);
  }
  void drift(std::span<const float> programmed, std::span<const float>, double, std::span<float> out,
             const RandomStream&) const override {
    std::copy(programmed.begin(), programmed.end(), out.begin());
  }

 private:
  parameters::ConductanceConverter converter_{};
};

// PCMLikeNoiseModel and CustomDriftPCMLikeNoiseModel:
//   sigma_prog = poly(prog_coeff, g_r) g_max / prog_coeff_g_max_reference
//   nu = max(|mu_nu + sigma_nu xi|, 0) drift_scale with
//     mu_nu = clamp(-0.0155 ln g_r + 0.0244, 0.049, 0.1), sigma_nu = clamp(-0.0125 ln g_r - 0.0059,
//     0.008, 0.045), g_r clamped >= 1e-7 (or both interpolated from the custom table in uS)
//   sigma_read = read_noise_scale clamp(0.0088 / max(g_r_prog^0.65, 1e-3), max 0.2)
class PcmLikeModel final : public DeviceNoiseModel {
 public:
  PcmLikeModel(const parameters::PCMLikeNoiseModel& config, const parameters::CustomDriftTable* table)
      : config_(config), g_max_(g_max_of(config.g_converter)) {
    if (table != nullptr) table_ = *table;
  }
  const parameters::ConductanceConverter& converter() const override { return config_.g_converter; }

  void program(std::span<const float> target, std::span<float> programmed, const RandomStream& stream) const override {
    const double factor = config_.prog_noise_scale * g_max_ / config_.prog_coeff_g_max_reference;
    add_programming_noise(target, g_max_, config_.prog_coeff, factor, programmed, stream);
  }

  void drift_coefficients(std::span<const float> target, std::span<float> nu,
                          const RandomStream& stream) const override {
    const auto drift_scale = static_cast<float>(config_.drift_scale);
    if (table_) {
      draw_drift_coefficients(target, nu, drift_scale, stream, [this](float g) {
        return std::pair{static_cast<float>(interpolate(table_->nu_mean_lst, g)),
                         static_cast<float>(interpolate(table_->nu_std_lst, g))};
      });
      return;
    }
    const auto inv_g_max = static_cast<float>(1.0 / g_max_);
    draw_drift_coefficients(target, nu, drift_scale, stream, [inv_g_max](float g) {
      // ln(max(g_r, 1e-7)) as max(ln g_r, ln 1e-7): the clamp after the log vectorises.
      const float log_g = clamp_float(log_positive(std::abs(g * inv_g_max)), -16.1180957f, 88.0f);
      return std::pair{clamp_float(-0.0155f * log_g + 0.0244f, 0.049f, 0.1f),
                       clamp_float(-0.0125f * log_g - 0.0059f, 0.008f, 0.045f)};
    });
  }

  void drift(std::span<const float> programmed, std::span<const float> nu, double t_inference, std::span<float> out,
             const RandomStream& stream) const override {
    const auto inv_g_max = static_cast<float>(1.0 / g_max_);
    const auto read_noise_scale = static_cast<float>(config_.read_noise_scale);
    drift_with_read_noise(programmed, nu, t_inference, config_.t_0, config_.t_read, out, stream, [=](float g) {
      // Q_s = min(0.0088 / max(g_r^0.65, 1e-3), 0.2), g_r^0.65 = exp(0.65 ln g_r)
      const float power = exp_float(0.65f * log_positive(std::abs(g) * inv_g_max));
      return read_noise_scale * clamp_float(0.0088f / clamp_float(power, 1e-3f, 3.4e38f), 0.0f, 0.2f);
    });
  }

 private:
  // Linear interpolation over the table's conductances, constant beyond its ends (numpy.interp).
  double interpolate(const std::vector<double>& values, double g) const {
    const std::vector<double>& grid = table_->g_lst;
    if (g <= grid.front()) return values.front();
    if (g >= grid.back()) return values.back();
    const auto upper = static_cast<std::size_t>(std::upper_bound(grid.begin(), grid.end(), g) - grid.begin());
    const double fraction = (g - grid[upper - 1]) / (grid[upper] - grid[upper - 1]);
    return values[upper - 1] + fraction * (values[upper] - values[upper - 1]);
  }

  parameters::PCMLikeNoiseModel config_;
  double g_max_;
  std::optional<parameters::CustomDriftTable> table_;
};

// StateIndependentNoiseModel (aihwkit custom.py): sigma_prog = poly(prog_coeff, g_r) in uS,
// not rescaled; nu = max(|nu_mean + nu_std xi|, 0) drift_scale; read noise
// |g_drift / g_max| rho sqrt(ln((t + t_read) / 2 t_read)) xi with rho = read_noise_scale.
class StateIndependentModel final : public DeviceNoiseModel {
 public:
  explicit StateIndependentModel(const parameters::StateIndependentNoiseModel& config)
      : config_(config), g_max_(g_max_of(config.g_converter)) {}
  const parameters::ConductanceConverter& converter() const override { return config_.g_converter; }

  void program(std::span<const float> target, std::span<float> programmed, const RandomStream& stream) const override {
    add_programming_noise(target, g_max_, config_.prog_coeff, config_.prog_noise_scale, programmed, stream);
  }
  void drift_coefficients(std::span<const float> target, std::span<float> nu,
                          const RandomStream& stream) const override {
    const auto mean = static_cast<float>(config_.drift_nu_mean), spread = static_cast<float>(config_.drift_nu_std);
    draw_drift_coefficients(target, nu, static_cast<float>(config_.drift_scale), stream, [=](float) {
      return std::pair{mean, spread};
    });
  }
  void drift(std::span<const float> programmed, std::span<const float> nu, double t_inference, std::span<float> out,
             const RandomStream& stream) const override {
    // Read noise std is |g_drift| / g_max * rho: relative to |g_drift| that is rho / g_max.
    const auto relative = static_cast<float>(config_.read_noise_scale / g_max_);
    drift_with_read_noise(programmed, nu, t_inference, config_.t_0, config_.t_read, out, stream,
                          [=](float) { return relative; });
  }

 private:
  parameters::StateIndependentNoiseModel config_;
  double g_max_;
};

// ReRamWan2022NoiseModel: deviations from the target measured at fixed times,
// sigma(t, g) = poly(coeff_dic[t], g_r) g_max / coeff_g_max_reference; programming uses the
// earliest time, drift(t) re-draws around the target with the coefficients of time t (which
// must be one of coeff_dic's times). The drift coefficients are the targets themselves.
class ReRamWan2022Model final : public DeviceNoiseModel {
 public:
  explicit ReRamWan2022Model(const parameters::ReRamWan2022NoiseModel& config)
      : config_(config), g_max_(g_max_of(config.g_converter)) {}
  const parameters::ConductanceConverter& converter() const override { return config_.g_converter; }

  void program(std::span<const float> target, std::span<float> programmed, const RandomStream& stream) const override {
    redraw(target, config_.coeff_dic.begin()->second, programmed, stream);
  }
  void drift_coefficients(std::span<const float> target, std::span<float> coefficients,
                          const RandomStream&) const override {
    std::copy(target.begin(), target.end(), coefficients.begin());
  }
  void drift(std::span<const float>, std::span<const float> target, double t_inference, std::span<float> out,
             const RandomStream& stream) const override {
    const auto found = config_.coeff_dic.find(t_inference);
    if (found == config_.coeff_dic.end()) {
      std::string times;
      for (const auto& entry : config_.coeff_dic)
        times += (times.empty() ? "" : ", ") + parameters::format_number(entry.first);
      throw std::invalid_argument("ReRamWan2022NoiseModel has measurements only at t_inference = " + times +
                                  " s, not at " + parameters::format_number(t_inference) + " s");
    }
    redraw(target, found->second, out, stream);
  }

 private:
  void redraw(std::span<const float> target, const std::vector<double>& coefficients, std::span<float> out,
              const RandomStream& stream) const {
    const double factor = config_.noise_scale * g_max_ / config_.coeff_g_max_reference;
    add_programming_noise(target, g_max_, coefficients, factor, out, stream);
  }

  parameters::ReRamWan2022NoiseModel config_;
  double g_max_;
};

}  // namespace

std::unique_ptr<DeviceNoiseModel> make_device_noise_model(const parameters::NoiseModel& config) {
  return std::visit(
      [](const auto& model) -> std::unique_ptr<DeviceNoiseModel> {
        using Model = std::decay_t<decltype(model)>;
        if constexpr (std::is_same_v<Model, parameters::PCMLikeNoiseModel>) {
          return std::make_unique<PcmLikeModel>(model, nullptr);
        } else if constexpr (std::is_same_v<Model, parameters::CustomDriftPCMLikeNoiseModel>) {
          return std::make_unique<PcmLikeModel>(model, &model.custom_drift_model);
        } else if constexpr (std::is_same_v<Model, parameters::StateIndependentNoiseModel>) {
          return std::make_unique<StateIndependentModel>(model);
        } else if constexpr (std::is_same_v<Model, parameters::ReRamWan2022NoiseModel>) {
          return std::make_unique<ReRamWan2022Model>(model);
        } else if constexpr (std::is_same_v<Model, parameters::NullNoiseModel>) {
          return std::make_unique<NullModel>();
        } else {
          // A noise model added to the config's variant must be implemented here: it must not
          // quietly simulate no noise at all.
          static_assert(sizeof(Model) == 0, "make_device_noise_model: a noise model without an implementation");
        }
      },
      config);
}

}  // namespace tessera::simulator
