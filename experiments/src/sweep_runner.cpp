#include "tessera/experiments/sweep_runner.hpp"

#include <unistd.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "tessera/experiments/evaluation.hpp"
#include "tessera/experiments/hardware_model.hpp"
#include "tessera/experiments/sweep_report.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/parameters/config_io.hpp"

namespace tessera::experiments {
namespace fs = std::filesystem;
using parameters::save_config;

namespace {

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 1469598103934665603ull) {
  for (const unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::string hex(std::uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::string describe(const DataSource& data) {
  std::ostringstream out;
  out << (data.format == DataFormat::npy ? "npy " : "idx ") << data.images << " " << data.labels << " "
      << data.normalization.mean << " " << data.normalization.std << " " << data.limit;
  return out.str();
}

std::string describe(const Hardware& hardware) {
  std::string text = "name: " + hardware.name + "\n";
  if (hardware.analog) {
    text += "analog:\n" + save_config(hardware.analog->rpu_config) + "types:";
    for (const auto& type : hardware.analog->module_types) text += " " + type;
    text += "\nexclude:";
    for (const auto& name : hardware.analog->exclude) text += " " + name;
    for (const auto& [name, config] : hardware.analog->instances)
      text += "\ninstance " + name + ":\n" + save_config(config);
    text += "\n";
  }
  if (hardware.quantization) text += "quantization:\n" + save_config(hardware.quantization->map);
  return text;
}

// A swept value as JSON: a number when it reads as one, else the text.
ResultRow json_value(const std::string& text) {
  double number = 0.0;
  std::size_t used = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == text.size() && std::isfinite(number)) {
    // Whole numbers stay whole (62, not 62.0) in the CSV.
    if (number == std::trunc(number) && std::abs(number) < 9.0e15) return static_cast<std::int64_t>(number);
    return number;
  }
  return text;
}

ResultRow metric_value(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

struct Run {
  std::size_t point;
  std::uint64_t seed;
  std::string id;
};

std::string format_seconds(double seconds) {
  char buffer[32];
  if (seconds < 60)
    std::snprintf(buffer, sizeof buffer, "%.0fs", seconds);
  else if (seconds < 3600)
    std::snprintf(buffer, sizeof buffer, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%dh%02dm", int(seconds) / 3600, int(seconds) % 3600 / 60);
  return buffer;
}

std::string point_label(const SweepSpec& spec, const SweepPoint& point) {
  std::string label = point.hardware;
  for (const SweepValue& value : point.values) {
    if (value.path != "hardware") label += " " + value.path + "=" + value.text;
  }
  (void)spec;
  return label;
}

}  // namespace

std::string file_digest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  std::uint64_t hash = 1469598103934665603ull;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
    hash = fnv1a({buffer, static_cast<std::size_t>(in.gcount())}, hash);
  return hex(hash);
}

std::string run_id(const SweepSpec& spec, const ResolvedPoint& point, std::uint64_t seed,
                   const std::string& model_digest) {
  std::ostringstream key;
  key << "model " << model_digest << "\ndata " << describe(spec.data) << "\ncalibration "
      << (spec.calibration ? describe(*spec.calibration) : "-") << "\n"
      << describe(point.hardware) << "t_inference " << hex(std::bit_cast<std::uint64_t>(point.t_inference)) << "\nseed "
      << seed << "\nmetrics";
  for (const auto& metric : spec.metrics) key << " " << metric;
  return hex(fnv1a(key.str()));
}

void check_sweep_inputs(const SweepSpec& spec) {
  std::optional<nn::Model> model;
  try {
    model.emplace(nn::load_onnx(spec.model.string()));
  } catch (const std::exception& error) {
    spec.fail_at("model", error.what());
  }
  for (const Hardware& hardware : spec.hardware) {
    try {
      convert_for_hardware(*model, hardware, 0);
    } catch (const std::exception& error) {
      spec.fail_at("hardware." + hardware.name, error.what());
    }
  }
  for (const char* key : {"data", "calibration"}) {
    const DataSource* source = std::string(key) == "data" ? &spec.data
                               : spec.calibration         ? &*spec.calibration
                                                          : nullptr;
    if (source == nullptr) continue;
    try {
      DataSource first = *source;
      first.limit = 2;
      const Dataset data = load_dataset(first);
      EvaluationRequest request;
      request.batch_size = 2;
      evaluate(*model, data, request);
    } catch (const std::exception& error) {
      spec.fail_at(key, error.what());
    }
  }
}

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count) {
    throw std::invalid_argument("shard " + std::to_string(options.shard_index + 1) + "/" +
                                std::to_string(options.shard_count) + " does not exist");
  }
  SweepSummary summary;
  summary.directory = options.output_directory.value_or(spec.output_directory);
  const std::string journal_name = options.shard_count == 1
                                       ? "points.jsonl"
                                       : "points.shard-" + std::to_string(options.shard_index + 1) + "-of-" +
                                             std::to_string(options.shard_count) + ".jsonl";
  ResultsJournal journal(summary.directory, journal_name);  // fails now if results could not be saved
  summary.repairs = journal.repairs();

  const std::string model_digest = file_digest(spec.model);
  std::vector<ResolvedPoint> resolved;
  for (const SweepPoint& point : spec.points) resolved.push_back(resolve_point(spec, point));
  std::vector<Run> runs;
  std::vector<Run> todo;
  for (std::size_t p = 0; p < spec.points.size(); ++p) {
    for (const std::uint64_t seed : spec.seeds) {
      Run run{p, seed, run_id(spec, resolved[p], seed, model_digest)};
      const bool mine =
          static_cast<int>(runs.size() % static_cast<std::size_t>(options.shard_count)) == options.shard_index;
      runs.push_back(run);
      if (!mine) continue;
      if (journal.contains(run.id)) {
        ++summary.already_done;
      } else {
        todo.push_back(run);
      }
    }
  }
  summary.runs = static_cast<std::int64_t>(runs.size());

  if (!todo.empty()) {
    nn::Model float_model = nn::load_onnx(spec.model.string());
    const Dataset data = load_dataset(spec.data);
    std::optional<Dataset> calibration;
    if (spec.calibration) calibration = load_dataset(*spec.calibration);
    const auto started = std::chrono::steady_clock::now();
    for (const Run& run : todo) {
      const auto run_started = std::chrono::steady_clock::now();
      const ResolvedPoint& point = resolved[run.point];
      nn::ConversionReport report;
      nn::Model model = convert_for_hardware(float_model, point.hardware, run.seed, &report);
      if (point.hardware.quantization) {
        model.compute_encodings([&](nn::Model& m) {
          for (std::int64_t first = 0; first < calibration->images.dim(0); first += spec.batch_size) {
            const std::int64_t count = std::min(spec.batch_size, calibration->images.dim(0) - first);
            m.forward(batch_of(calibration->images, first, count));
          }
        });
      }
      if (point.hardware.analog) model.drift(point.t_inference);
      EvaluationRequest request{spec.metrics, spec.batch_size, &float_model, {}};
      for (const nn::ConversionEntry& entry : report.entries) {
        if (entry.became != "unchanged") request.snr_modules.push_back(entry.module);
      }
      const MetricValues metrics = evaluate(model, data, request);

      ResultRow row = ResultRow::object();
      row["point_id"] = run.id;
      const SweepPoint& sweep_point = spec.points[run.point];
      for (const std::string& column : spec.columns) {
        const std::string text = sweep_point.value_of(column);
        if (!text.empty()) row[column] = column == "hardware" ? ResultRow(text) : json_value(text);
      }
      row["seed"] = run.seed;
      for (const auto& [name, value] : metrics) row[name] = metric_value(value);
      row["samples"] = data.images.dim(0);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count();
      row["seconds"] = std::round(seconds * 1000.0) / 1000.0;
      journal.append(row);
      ++summary.computed;

      if (options.log != nullptr) {
        *options.log << "[" << summary.already_done + summary.computed << "/" << runs.size() / options.shard_count
                     << "] " << point_label(spec, sweep_point) << " seed=" << run.seed;
        for (const auto& [name, value] : metrics) *options.log << " " << name << "=" << value;
        *options.log << "\n";
      }
      if (options.progress) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double eta = elapsed / static_cast<double>(summary.computed) *
                           static_cast<double>(todo.size() - static_cast<std::size_t>(summary.computed));
        std::fprintf(stderr, "\r\033[K%lld/%zu runs  elapsed %s  ETA %s  (%s seed=%llu)",
                     static_cast<long long>(summary.computed), todo.size(), format_seconds(elapsed).c_str(),
                     format_seconds(eta).c_str(), point_label(spec, sweep_point).c_str(),
                     static_cast<unsigned long long>(run.seed));
        std::fflush(stderr);
      }
    }
    if (options.progress) std::fprintf(stderr, "\n");
  }

  std::vector<ResultRow> rows;
  for (const Run& run : runs) {
    const auto found = journal.rows().find(run.id);
    if (found == journal.rows().end()) {
      ++summary.missing;
    } else {
      rows.push_back(found->second);
    }
  }
  summary.outputs = write_sweep_report(spec, rows, summary.directory);
  return summary;
}

}  // namespace tessera::experiments
