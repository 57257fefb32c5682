#include "tessera/experiments/sweep_runner.hpp"

#include <unistd.h>

#include <algorithm>
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
#include "tessera/nn/adaround.hpp"
#include "tessera/nn/bias_correction.hpp"
#include "tessera/nn/encodings.hpp"
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
  if (hardware.quantization) {
    text += "quantization:\n" + save_config(hardware.quantization->map);
    if (!hardware.quantization->fold_batch_norms) text += "fold_batch_norms false\n";
    if (hardware.quantization->fuse_activations) text += "fuse_activations true\n";
    if (hardware.quantization->cross_layer_equalization) text += "cross_layer_equalization true\n";
    if (hardware.quantization->adaround) {
      text += "adaround " + std::to_string(hardware.quantization->adaround_iterations) + "\n";
    }
    if (hardware.quantization->bias_correction) {
      // Empirical correction keeps the line it always had, so earlier results keep their ids.
      text += hardware.quantization->bias_correction_method == "empirical" ? std::string("bias_correction true\n")
                                                                             : "bias_correction analytical\n";
    }
    if (!hardware.quantization->encodings.empty()) {
      text += "encodings " + file_digest(hardware.quantization->encodings) + "\n";
    }
  }
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

std::string point_settings(const ResolvedPoint& point) {
  return describe(point.hardware) + "t_inference " + hex(std::bit_cast<std::uint64_t>(point.t_inference));
}

std::string run_id(const SweepSpec& spec, const ResolvedPoint& point, std::uint64_t seed,
                   const std::string& model_digest) {
  std::ostringstream key;
  key << "model " << model_digest << "\ndata " << describe(spec.data) << "\ncalibration "
      << (spec.calibration ? describe(*spec.calibration) : "-") << "\n"
      << point_settings(point) << "\nseed " << seed << (spec.device == simulator::Backend::cpu ? "" : "\ndevice cuda")
      << "\nmetrics";
  for (const auto& metric : spec.metrics) key << " " << metric;
  return hex(fnv1a(key.str()));
}

void check_sweep_inputs(const SweepSpec& spec) {
  if (spec.device == simulator::Backend::cuda) {
    try {
      simulator::cuda::require_device("cuda");
    } catch (const std::exception& error) {
      spec.fail_at("device", error.what());
    }
  }
  std::optional<nn::Model> model;
  try {
    model.emplace(nn::load_onnx(spec.model.string()));
  } catch (const std::exception& error) {
    spec.fail_at("model", error.what());
  }
  for (const Hardware& hardware : spec.hardware) {
    try {
      nn::Model converted = convert_for_hardware(*model, hardware, 0);
      if (hardware.quantization && !hardware.quantization->encodings.empty()) {
        nn::load_encodings_json(converted, hardware.quantization->encodings.string());
      }
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

std::vector<SweepRun> list_runs(const SweepSpec& spec) {
  const std::string model_digest = file_digest(spec.model);
  std::vector<SweepRun> runs;
  for (std::size_t p = 0; p < spec.points.size(); ++p) {
    const ResolvedPoint point = resolve_point(spec, spec.points[p]);
    for (const std::uint64_t seed : spec.seeds) runs.push_back({p, seed, run_id(spec, point, seed, model_digest)});
  }
  return runs;
}

struct RunEvaluator::Loaded {
  nn::Model float_model;
  Dataset data;
  std::optional<Dataset> calibration;
};

RunEvaluator::RunEvaluator(const SweepSpec& spec, std::function<bool()> should_stop)
    : spec_(spec), should_stop_(std::move(should_stop)) {}
RunEvaluator::~RunEvaluator() = default;

namespace {

// The model a run evaluates on `hardware`: converted, calibrated (or given its encodings), on
// the spec's device, drifted to `t_inference` where it has tiles.
nn::Model prepared_model(const SweepSpec& spec, const nn::Model& float_model, const Dataset* calibration_data,
                         const Hardware& hardware, double t_inference, std::uint64_t seed, nn::ConversionPlan* plan) {
  nn::Model model = convert_for_hardware(float_model, hardware, seed, plan);
  const QuantizationHardware* quantization = hardware.quantization ? &*hardware.quantization : nullptr;
  if (quantization && (quantization->adaround || quantization->bias_correction) && calibration_data == nullptr) {
    throw nn::ModelError("hardware '" + hardware.name +
                         "': adaround and bias_correction need the sweep's "
                         "calibration data");
  }
  if (quantization && quantization->adaround) {
    nn::AdaRoundParameters parameters;
    parameters.num_iterations = quantization->adaround_iterations;
    model = nn::adaround(model, calibration_data->images, spec.batch_size, parameters);
  }
  if (quantization && quantization->bias_correction) {
    model = nn::correct_biases(model, calibration_data->images, spec.batch_size, nullptr,
                               quantization->bias_correction_method == "analytical"
                                   ? nn::BiasCorrectionMethod::analytical
                                   : nn::BiasCorrectionMethod::empirical);
  }
  if (hardware.quantization && !hardware.quantization->encodings.empty()) {
    nn::load_encodings_json(model, hardware.quantization->encodings.string());
  } else if (hardware.quantization) {
    const Dataset& calibration = *calibration_data;
    model.compute_encodings([&](nn::Model& m) {
      for (std::int64_t first = 0; first < calibration.images.dim(0); first += spec.batch_size) {
        const std::int64_t count = std::min(spec.batch_size, calibration.images.dim(0) - first);
        m.run({model_input(m, batch_of(calibration.images, first, count))});
      }
    });
  }
  if (spec.device != simulator::Backend::cpu) model.set_backend(spec.device);
  if (hardware.analog) model.drift(t_inference);
  return model;
}

}  // namespace

ResultRow RunEvaluator::evaluate(const SweepRun& run) {
  if (!loaded_) {
    loaded_ = std::make_unique<Loaded>(Loaded{nn::load_onnx(spec_.model.string()), load_dataset(spec_.data), {}});
    if (spec_.calibration) loaded_->calibration = load_dataset(*spec_.calibration);
  }
  const auto started = std::chrono::steady_clock::now();
  const SweepPoint& sweep_point = spec_.points.at(run.point);
  const ResolvedPoint point = resolve_point(spec_, sweep_point);
  nn::ConversionPlan plan;
  const Dataset* calibration = loaded_->calibration ? &*loaded_->calibration : nullptr;
  nn::Model model =
      prepared_model(spec_, loaded_->float_model, calibration, point.hardware, point.t_inference, run.seed, &plan);
  nn::Model reference = reference_for_hardware(loaded_->float_model, point.hardware);
  EvaluationRequest request{spec_.metrics, spec_.batch_size, &reference, {}, should_stop_};
  for (const nn::PlannedModule& entry : plan.modules) {
    if (entry.is_converted()) request.snr_modules.push_back(entry.module);
  }
  MetricValues metrics = experiments::evaluate(model, loaded_->data, request);
  const auto wanted = [&](const char* metric) {
    return std::find(spec_.metrics.begin(), spec_.metrics.end(), metric) != spec_.metrics.end();
  };
  if (wanted("layer_snr") || wanted("layer_top1")) {
    // Each converted module alone on its hardware (same seed, so the same noise draws): its own
    // output against float and the accuracy it leaves, what that layer costs without the errors
    // of the layers before it; and (layer_top1) the accuracy of every converted module but it.
    std::vector<std::string> alone_metrics;
    if (wanted("layer_snr")) alone_metrics.emplace_back("snr");
    if (wanted("layer_top1")) {
      alone_metrics.emplace_back("top1");
      // The float model's top-1 (after the same graph passes), what each layer's drop is from.
      const EvaluationRequest float_top1{{"top1"}, spec_.batch_size, nullptr, {}, should_stop_};
      metrics.emplace_back("float_top1", experiments::evaluate(reference, loaded_->data, float_top1).front().second);
    }
    for (const std::string& module : request.snr_modules) {
      nn::Model alone = prepared_model(spec_, loaded_->float_model, calibration,
                                       only_module(point.hardware, module, request.snr_modules), point.t_inference,
                                       run.seed, nullptr);
      const EvaluationRequest one{alone_metrics, spec_.batch_size, &reference, {module}, should_stop_};
      for (const auto& [name, value] : experiments::evaluate(alone, loaded_->data, one)) {
        metrics.emplace_back(name == "top1" ? "layer_top1." + module : "layer_" + name, value);
      }
      if (!wanted("layer_top1")) continue;
      nn::Model all_but = prepared_model(spec_, loaded_->float_model, calibration,
                                         all_but_module(point.hardware, module), point.t_inference, run.seed, nullptr);
      const EvaluationRequest rest{{"top1"}, spec_.batch_size, nullptr, {}, should_stop_};
      metrics.emplace_back("all_but_top1." + module,
                           experiments::evaluate(all_but, loaded_->data, rest).front().second);
    }
  }

  ResultRow row = ResultRow::object();
  row["point_id"] = run.id;
  for (const std::string& column : spec_.columns) {
    const std::string text = sweep_point.value_of(column);
    if (!text.empty()) row[column] = column == "hardware" ? ResultRow(text) : json_value(text);
  }
  row["seed"] = run.seed;
  for (const auto& [name, value] : metrics) row[name] = metric_value(value);
  row["samples"] = loaded_->data.images.dim(0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  row["seconds"] = std::round(seconds * 1000.0) / 1000.0;
  return row;
}

namespace {

void compute_in_turn(const std::vector<SweepRun>& todo, const ComputeRun& compute, const StoreRow& store) {
  for (const SweepRun& run : todo) store(compute(run));
}

// The progress line and the per-run log while rows come in.
class RunMonitor {
 public:
  RunMonitor(const SweepSpec& spec, const SweepOptions& options, std::size_t todo, std::size_t total_mine)
      : spec_(spec), options_(options), todo_(todo), total_mine_(total_mine) {}
  ~RunMonitor() {
    if (options_.progress && done_ > 0) std::fprintf(stderr, "\n");
  }
  void finished(const ResultRow& row, std::int64_t already_done) {
    ++done_;
    const std::string label = row_label(row);
    if (options_.log != nullptr) {
      *options_.log << "[" << already_done + done_ << "/" << total_mine_ << "] " << label;
      for (const auto& [key, value] : row.items()) {
        if (key == "point_id" || key == "seed" || key == "samples" || key == "seconds" || is_setting(key)) continue;
        *options_.log << " " << key << "=" << value.dump();
      }
      *options_.log << "\n";
    }
    if (options_.progress) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(todo_ - done_);
      std::fprintf(stderr, "\r\033[K%zu/%zu runs  elapsed %s  ETA %s  (%s)", done_, todo_,
                   format_seconds(elapsed).c_str(), format_seconds(eta).c_str(), label.c_str());
      std::fflush(stderr);
    }
  }

 private:
  bool is_setting(const std::string& key) const {
    return std::find(spec_.columns.begin(), spec_.columns.end(), key) != spec_.columns.end();
  }
  // "pcm t_inference=86400 analog.forward.out_res=254 seed=1"
  std::string row_label(const ResultRow& row) const {
    std::string label = row.value("hardware", std::string());
    for (const std::string& column : spec_.columns) {
      if (column != "hardware" && row.contains(column)) label += " " + column + "=" + row[column].dump();
    }
    return label + " seed=" + row["seed"].dump();
  }

  const SweepSpec& spec_;
  const SweepOptions& options_;
  std::size_t todo_;
  std::size_t total_mine_;
  std::size_t done_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace

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

  const std::vector<SweepRun> runs = list_runs(spec);
  summary.runs = static_cast<std::int64_t>(runs.size());
  std::vector<SweepRun> todo;
  std::size_t mine = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (static_cast<int>(r % static_cast<std::size_t>(options.shard_count)) != options.shard_index) continue;
    ++mine;
    if (journal.contains(runs[r].id)) {
      ++summary.already_done;
    } else {
      todo.push_back(runs[r]);
    }
  }

  RunEvaluator evaluator(spec, options.should_stop);
  RunMonitor monitor(spec, options, todo.size(), mine);
  const ComputeRun compute = [&](const SweepRun& run) {
    if (options.should_stop && options.should_stop()) throw SweepInterrupted();
    return evaluator.evaluate(run);
  };
  const StoreRow store = [&](const ResultRow& row) {
    journal.append(row);
    ++summary.computed;
    monitor.finished(row, summary.already_done);
  };
  if (options.scheduler) {
    options.scheduler(todo, compute, store);
  } else {
    compute_in_turn(todo, compute, store);
  }

  for (const SweepRun& run : runs) {
    const auto found = journal.rows().find(run.id);
    if (found == journal.rows().end()) {
      ++summary.missing;
    } else {
      summary.rows.push_back(found->second);
    }
  }
  summary.outputs = write_sweep_report(spec, summary.rows, summary.directory);
  return summary;
}

}  // namespace tessera::experiments
