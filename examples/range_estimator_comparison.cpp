// Compares every range estimator on synthetic data: calibrate a quantizer on a few batches,
// then measure the signal-to-quantization-noise ratio on held-out data. This is tessera's
// main job until the sweep runner arrives (see README).
//   range_estimator_comparison [--output DIR] [--seed N] [--estimator-params FILE.yaml]
// Writes DIR/range_estimators.csv (one row per distribution x bit width x estimator).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "tessera/parameters/config_io.hpp"
#include "tessera/simulator/affine_quantizer.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace {

using tessera::parameters::RangeEstimator;
using tessera::parameters::RangeEstimatorParameters;
using namespace tessera::simulator;

constexpr int kCalibrationBatches = 8;
constexpr std::int64_t kBatchSize = 1 << 14;
constexpr std::int64_t kTestSize = 1 << 18;

struct Distribution {
  const char* name;
  bool symmetric;  // quantize symmetrically (zero-centred data) or not (one-sided data)
  std::function<float(float uniform, float normal)> draw;
};

const std::vector<Distribution>& distributions() {
  static const std::vector<Distribution> list{
      {"gaussian", true, [](float, float z) { return z; }},
      {"laplace", true,
       [](float u, float) {
         const float centred = u - 0.5f;
         return -std::copysign(1.0f, centred) * std::log(1.0f - 2.0f * std::abs(centred)) / std::sqrt(2.0f);
       }},
      {"uniform", true, [](float u, float) { return 2.0f * u - 1.0f; }},
      {"relu_gaussian", false, [](float, float z) { return std::max(z, 0.0f); }},
  };
  return list;
}

Tensor sample(const Distribution& distribution, const RandomStream& stream, std::int64_t count) {
  std::vector<float> uniform(static_cast<std::size_t>(count)), normal(static_cast<std::size_t>(count));
  stream.derive("uniform").fill_uniform(uniform);
  stream.derive("normal").fill_normal(normal);
  Tensor values({count});
  for (std::int64_t i = 0; i < count; ++i) values[i] = distribution.draw(uniform[i], normal[i]);
  return values;
}

double sqnr_db(const Tensor& signal, const Tensor& quantized) {
  double power = 0.0, noise = 0.0;
  for (std::int64_t i = 0; i < signal.size(); ++i) {
    power += static_cast<double>(signal[i]) * signal[i];
    noise += (static_cast<double>(signal[i]) - quantized[i]) * (static_cast<double>(signal[i]) - quantized[i]);
  }
  return 10.0 * std::log10(power / std::max(noise, 1e-300));
}

void print_usage() {
  std::cout << "usage: range_estimator_comparison [--output DIR] [--seed N] [--estimator-params FILE.yaml]\n\n"
               "Calibrates a per-tensor quantizer with every range estimator on Gaussian, Laplace, uniform\n"
               "and ReLU(Gaussian) data at 4 and 8 bits, and reports the SQNR (dB) on held-out data.\n\n"
               "  --output DIR              where range_estimators.csv is written (default: results)\n"
               "  --seed N                  seed of the data (default: 1)\n"
               "  --estimator-params FILE   YAML RangeEstimatorParameters, e.g. 'percentile: 99.9'\n"
               "  --help                    this text\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path output = "results";
  std::uint64_t seed = 1;
  RangeEstimatorParameters params;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      print_usage();
      return 0;
    } else if (arg == "--output" && has_value) {
      output = argv[++i];
    } else if (arg == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--estimator-params" && has_value) {
      try {
        params = tessera::parameters::load_config_file<RangeEstimatorParameters>(argv[++i]);
      } catch (const tessera::parameters::ConfigError& error) {
        std::cerr << "error: " << error.what() << "\n";
        return 2;
      }
    } else {
      std::cerr << "error: unknown or incomplete argument '" << arg << "'\n\n";
      print_usage();
      return 2;
    }
  }

  std::filesystem::create_directories(output);
  const std::filesystem::path csv_path = output / "range_estimators.csv";
  const std::filesystem::path temporary = output / "range_estimators.csv.tmp";
  std::ofstream csv(temporary);
  csv << "distribution,bitwidth,symmetric,range_estimator,min,max,sqnr_db\n";
  std::printf("%-14s %4s  %-22s %10s %10s %9s\n", "distribution", "bits", "range_estimator", "min", "max", "SQNR dB");

  const RandomStream root(seed);
  for (const Distribution& distribution : distributions()) {
    const RandomStream stream = root.derive(distribution.name);
    const Tensor test = sample(distribution, stream.derive("test"), kTestSize);
    for (int bits : {4, 8}) {
      for (const auto& [estimator, name] : tessera::parameters::EnumNames<RangeEstimator>::kNames) {
        QuantizeDequantize quantizer({.bitwidth = bits,
                                      .symmetric = distribution.symmetric,
                                      .range_estimator = estimator,
                                      .range_estimator_params = params});
        {
          auto calibration = quantizer.compute_encodings();
          for (int batch = 0; batch < kCalibrationBatches; ++batch) {
            quantizer(sample(distribution, stream.derive("calibration").derive(static_cast<std::uint64_t>(batch)),
                             kBatchSize));
          }
          calibration.finish();
        }
        const double sqnr = sqnr_db(test, quantizer(test));
        const float min = quantizer.min()[0], max = quantizer.max()[0];
        std::printf("%-14s %4d  %-22s %10.4f %10.4f %9.2f\n", distribution.name, bits, std::string(name).c_str(), min,
                    max, sqnr);
        csv << distribution.name << ',' << bits << ',' << (distribution.symmetric ? "true" : "false") << ',' << name
            << ',' << min << ',' << max << ',' << sqnr << '\n';
      }
    }
  }
  csv.close();
  if (!csv) {
    std::cerr << "error: cannot write " << temporary << "\n";
    return 1;
  }
  std::filesystem::rename(temporary, csv_path);
  std::cout << "\nwrote " << csv_path.string() << "\n";
  return 0;
}
