// The device noise models, with aihwkit's formulas (inference/noise/{pcm,custom,reram}.py).
// g_r = g / g_max throughout; xi are standard normals.
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "tessera/simulator/noise/device_noise_model.hpp"

namespace tessera::simulator {
namespace {

double g_max_of(const parameters::ConductanceConverter& converter) {
  return std::visit([](const auto& c) { return c.g_max; }, converter);
}

// sum_i c_i g_r^i
double polynomial(const std::vector<double>& coefficients, double g_r) {
  double value = 0.0, power = 1.0;
  for (double c : coefficients) {
    value += c * power;
    power *= g_r;
  }
  return value;
}

std::vector<float> normals(std::size_t count, const RandomStream& stream) {
  std::vector<float> draws(count);
  stream.fill_normal(draws);
  return draws;
}

// g = max(g_T + scale sigma(g_T) xi, 0)
template <class Sigma>
void add_programming_noise(std::span<const float> target, std::span<float> programmed, double scale,
                           const RandomStream& stream, Sigma sigma) {
  const std::vector<float> xi = normals(target.size(), stream);
  for (std::size_t n = 0; n < target.size(); ++n) {
    programmed[n] = static_cast<float>(std::max(target[n] + scale * sigma(target[n]) * xi[n], 0.0));
  }
}

// Power-law drift g (t / t_0)^-nu, then read noise |g_drift| sigma_read(g) xi, clamped >= 0.
template <class ReadSigma>
void drift_with_read_noise(std::span<const float> programmed, std::span<const float> nu, double t_inference, double t_0,
                           double t_read, std::span<float> out, const RandomStream& stream, ReadSigma read_sigma) {
  const double t = t_inference + t_0;
  const double accumulated = std::sqrt(std::log((t + t_read) / (2.0 * t_read)));
  const std::vector<float> xi = normals(programmed.size(), stream);
  for (std::size_t n = 0; n < programmed.size(); ++n) {
    const double g = programmed[n];
    const double g_drift = t > t_0 ? g * std::pow(t / t_0, -static_cast<double>(nu[n])) : g;
    out[n] = static_cast<float>(std::max(g_drift + std::abs(g_drift) * read_sigma(g) * accumulated * xi[n], 0.0));
  }
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
    const double rescale = g_max_ / config_.prog_coeff_g_max_reference;
    add_programming_noise(target, programmed, config_.prog_noise_scale, stream,
                          [&](double g) { return polynomial(config_.prog_coeff, g / g_max_) * rescale; });
  }

  void drift_coefficients(std::span<const float> target, std::span<float> nu,
                          const RandomStream& stream) const override {
    const std::vector<float> xi = normals(target.size(), stream);
    for (std::size_t n = 0; n < target.size(); ++n) {
      double mean = 0.0, spread = 0.0;
      if (table_) {
        mean = interpolate(table_->nu_mean_lst, target[n]);
        spread = interpolate(table_->nu_std_lst, target[n]);
      } else {
        const double log_g = std::log(std::max(std::abs(target[n] / g_max_), 1e-7));
        mean = std::clamp(-0.0155 * log_g + 0.0244, 0.049, 0.1);
        spread = std::clamp(-0.0125 * log_g - 0.0059, 0.008, 0.045);
      }
      nu[n] = static_cast<float>(std::max(std::abs(mean + spread * xi[n]), 0.0) * config_.drift_scale);
    }
  }

  void drift(std::span<const float> programmed, std::span<const float> nu, double t_inference, std::span<float> out,
             const RandomStream& stream) const override {
    drift_with_read_noise(programmed, nu, t_inference, config_.t_0, config_.t_read, out, stream, [&](double g) {
      const double q_s = std::min(0.0088 / std::max(std::pow(std::abs(g) / g_max_, 0.65), 1e-3), 0.2);
      return config_.read_noise_scale * q_s;
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
    add_programming_noise(target, programmed, config_.prog_noise_scale, stream,
                          [&](double g) { return polynomial(config_.prog_coeff, g / g_max_); });
  }
  void drift_coefficients(std::span<const float> target, std::span<float> nu,
                          const RandomStream& stream) const override {
    const std::vector<float> xi = normals(target.size(), stream);
    for (std::size_t n = 0; n < target.size(); ++n) {
      nu[n] = static_cast<float>(std::max(std::abs(config_.drift_nu_mean + config_.drift_nu_std * xi[n]), 0.0) *
                                 config_.drift_scale);
    }
  }
  void drift(std::span<const float> programmed, std::span<const float> nu, double t_inference, std::span<float> out,
             const RandomStream& stream) const override {
    // Read noise std is |g_drift| / g_max * rho: relative to |g_drift| that is rho / g_max.
    drift_with_read_noise(programmed, nu, t_inference, config_.t_0, config_.t_read, out, stream,
                          [&](double) { return config_.read_noise_scale / g_max_; });
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
      for (const auto& entry : config_.coeff_dic) times += (times.empty() ? "" : ", ") + std::to_string(entry.first);
      throw std::invalid_argument("ReRamWan2022NoiseModel has measurements only at t_inference = " + times +
                                  " s, not at " + std::to_string(t_inference) + " s");
    }
    redraw(target, found->second, out, stream);
  }

 private:
  void redraw(std::span<const float> target, const std::vector<double>& coefficients, std::span<float> out,
              const RandomStream& stream) const {
    const double rescale = g_max_ / config_.coeff_g_max_reference;
    add_programming_noise(target, out, config_.noise_scale, stream,
                          [&](double g) { return polynomial(coefficients, g / g_max_) * rescale; });
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
        } else {
          return std::make_unique<NullModel>();
        }
      },
      config);
}

}  // namespace tessera::simulator
