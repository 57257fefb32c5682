// The `tessera` command line: run and check sweep files, analyze layers, list presets, inspect models.
//   tessera sweep examples/fashion_mnist/sweep.yaml
//   tessera analyze my_quantization.yaml
//   tessera validate my_sweep.yaml
//   tessera presets list | tessera presets show pcm_inference
//   tessera info model.onnx --hardware my_sweep.yaml
#include <omp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "mpi_scheduler.hpp"
#include "tessera/experiments/hardware_model.hpp"
#include "tessera/experiments/presets.hpp"
#include "tessera/experiments/sensitivity_report.hpp"
#include "tessera/experiments/sweep_report.hpp"
#include "tessera/experiments/sweep_runner.hpp"
#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/parameters/config_io.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/cpu_features.hpp"

namespace {
namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::experiments;

struct SweepCommand {
  std::string file;
  std::string output;
  std::string shard;
  int threads = 0;
  bool quiet = false;
  bool verbose = false;
};

// "i/N" with 1 <= i <= N.
// "1 seed", "3 seeds".
std::string counted(std::size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void parse_shard(const std::string& text, SweepOptions& options) {
  const std::size_t slash = text.find('/');
  int index = 0, count = 0;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    std::size_t used_i = 0, used_n = 0;
    index = std::stoi(text.substr(0, slash), &used_i);
    count = std::stoi(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw std::invalid_argument("--shard expects i/N, e.g. 2/8, found '" + text + "'");
  }
  if (count < 1 || index < 1 || index > count) {
    throw std::invalid_argument("--shard " + text + ": expected 1 <= i <= N");
  }
  options.shard_index = index - 1;
  options.shard_count = count;
}

// Runs `spec` as `tessera sweep` does (shards, MPI ranks, progress) and prints its summary;
// on MPI ranks other than 0, serves runs and returns nullopt.
std::optional<SweepSummary> run_and_report(const SweepSpec& spec, const SweepCommand& command,
                                           const cli::MpiSession& session) {
  const int rank = session.rank(), ranks = session.size();
  SweepOptions options;
  if (!command.shard.empty()) parse_shard(command.shard, options);
  if (ranks > 1 && options.shard_count > 1) {
    throw std::invalid_argument("--shard splits work between separate jobs; under mpirun the ranks share it already");
  }
  if (!command.output.empty()) options.output_directory = command.output;
  if (command.threads > 0) omp_set_num_threads(command.threads);
  options.progress = rank == 0 && !command.quiet && isatty(STDERR_FILENO);
  if (command.verbose) options.log = &std::cout;
  if (ranks > 1) {
    if (rank != 0) {
      RunEvaluator evaluator(spec);
      cli::mpi_worker(session, [&](const SweepRun& run) { return evaluator.evaluate(run); });
      return std::nullopt;
    }
    options.scheduler = cli::mpi_root_scheduler(session);
  }
  check_sweep_inputs(spec);
  const SweepSummary summary = run_sweep(spec, options);
  for (const std::string& repair : summary.repairs) std::cerr << "repaired: " << repair << "\n";
  std::cout << summary.runs << " runs (" << counted(spec.points.size(), "point") << " x "
            << counted(spec.seeds.size(), "seed") << ")";
  if (options.shard_count > 1) std::cout << ", shard " << command.shard;
  if (ranks > 1) std::cout << ", " << ranks << " MPI ranks";
  std::cout << ": " << summary.computed << " computed, " << summary.already_done << " already done";
  if (summary.missing > 0) std::cout << ", " << summary.missing << " still missing (other shards)";
  std::cout << "\n";
  for (const std::string& path : summary.outputs) std::cout << "wrote " << path << "\n";
  return summary;
}

int run_sweep_command(const SweepCommand& command, const cli::MpiSession& session) {
  run_and_report(load_sweep_file(command.file), command, session);
  return 0;
}

// `tessera analyze`: the sweep file's points with metrics [top1, layer_top1, layer_snr] into
// <output>/analyze, then each point's layers ranked by the top-1 they leave when quantized alone.
int analyze_command(const SweepCommand& command, const cli::MpiSession& session) {
  const SweepSpec spec = analysis_spec(load_sweep_file(command.file));
  const nn::Model model = nn::load_onnx(spec.model.string());
  const bool converts = std::any_of(spec.hardware.begin(), spec.hardware.end(), [&](const Hardware& h) {
    nn::ConversionPlan plan;
    convert_for_hardware(model, h, 0, &plan);
    return std::any_of(plan.modules.begin(), plan.modules.end(), [](const auto& m) { return m.is_converted(); });
  });
  if (!converts) {  // refused before anything runs or is written
    throw std::invalid_argument(command.file + ": no hardware of this file converts a module, so there is no layer to analyze");
  }
  const std::optional<SweepSummary> summary = run_and_report(spec, command, session);
  if (!summary) return 0;
  std::vector<ResultRow> table = sensitivity_rows(spec, aggregate_sweep(spec, summary->rows));
  std::stable_sort(table.begin(), table.end(), [&](const ResultRow& a, const ResultRow& b) {
    const std::string la = settings_label(a, spec.columns), lb = settings_label(b, spec.columns);
    return la != lb ? la < lb : a["layer_top1"].get<double>() < b["layer_top1"].get<double>();
  });
  std::string shown;
  for (const ResultRow& row : table) {
    const std::string label = settings_label(row, spec.columns);
    if (label != shown) {
      shown = label;
      std::printf("\n%s: top1 %.4f, float %.4f; layers most sensitive first\n", label.c_str(),
                  row.value("top1", NAN), row.value("float_top1", NAN));
      std::printf("  %-28s %12s %12s %14s\n", "module", "only it", "all but it", "own SNR (dB)");
    }
    std::printf("  %-28s %12.4f %12.4f %14.1f\n", row["module"].get<std::string>().c_str(),
                row["layer_top1"].get<double>(), row.value("all_but_top1", NAN), row.value("layer_snr_db", NAN));
  }
  return 0;
}

int validate_command(const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    const SweepSpec spec = load_sweep_file(file);
    check_sweep_inputs(spec);
    std::cout << file << ": ok (" << counted(spec.points.size(), "point") << " x " << counted(spec.seeds.size(), "seed")
              << " = " << spec.points.size() * spec.seeds.size() << " runs; hardware:";
    for (const Hardware& h : spec.hardware) std::cout << " " << h.name;
    std::cout << ")\n";
    if (spec.merged_points > 0) {
      std::cout << "  " << spec.merged_points << " point(s) given by more than one grid run once\n";
    }
  }
  return 0;
}

int presets_command(const std::string& action, const std::string& name) {
  if (action == "list") {
    for (const std::string& preset_name : preset_names()) {
      const Preset preset = load_preset(preset_name);
      std::printf("%-24s %-13s %s\n", preset_name.c_str(), preset.analog ? "analog" : "quantization",
                  preset.description.c_str());
    }
    return 0;
  }
  if (name.empty()) throw std::invalid_argument("presets show needs a preset name (see: tessera presets list)");
  const Preset preset = load_preset(name);
  std::cout << "# " << preset.name << ": " << preset.description << "\n# " << preset.file.string()
            << ", resolved with every field\n";
  if (preset.analog) {
    std::cout << "analog:  # InferenceRPUConfig\n" << parameters::save_config(*preset.analog);
  } else {
    std::cout << "quantization:  # QuantizationMap\n" << parameters::save_config(*preset.quantization);
  }
  return 0;
}

// A sweep file has a top-level `hardware` section; a preset has `analog` or `quantization`
// instead, and a preset name is not a file at all.
bool is_sweep_file(const std::string& name_or_path) {
  if (!fs::is_regular_file(name_or_path)) return false;
  try {
    const YAML::Node root = YAML::LoadFile(name_or_path);
    return root.IsMap() && root["hardware"];
  } catch (const YAML::Exception&) {
    return false;  // load_preset then reports the file's syntax error with its position
  }
}

int info_command(const std::string& model_file, const std::string& hardware_file) {
  const nn::Model model = nn::load_onnx(model_file);
  std::cout << model_file << ": opset " << model.graph().opset << ", " << model.graph().nodes.size() << " nodes, "
            << model.modules().size() << " modules\n";
  std::int64_t total = 0;
  std::printf("%-28s %-20s %12s  %s\n", "module", "type", "parameters", "weight shape");
  for (const nn::ModuleInfo& module : model.modules()) {
    std::string shape;
    if (!module.weights.empty()) {
      shape = simulator::shape_to_string(model.graph().initializers.at(module.weights.front()).tensor.shape());
    }
    std::printf("%-28s %-20s %12lld  %s\n", module.name.c_str(), module.type.c_str(),
                static_cast<long long>(module.parameter_count), shape.c_str());
    total += module.parameter_count;
  }
  std::cout << "total parameters: " << total << "\n";
  if (hardware_file.empty()) return 0;
  std::vector<Hardware> hardware;
  if (!is_sweep_file(hardware_file)) {
    const Preset preset = load_preset(hardware_file);
    Hardware h{preset.name, {}, {}};
    if (preset.analog) h.analog = AnalogHardware{preset.name, *preset.analog};
    if (preset.quantization) h.quantization = QuantizationHardware{preset.name, *preset.quantization, {}};
    hardware.push_back(h);
  } else {
    hardware = load_sweep_file(hardware_file).hardware;
  }
  for (const Hardware& h : hardware) {
    nn::ConversionPlan plan;
    convert_for_hardware(model, h, 0, &plan);
    std::cout << "\nhardware '" << h.name << "':\n" << plan.to_string();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::MpiSession session(argc, argv);  // a session of one unless started by mpirun
  CLI::App app{
      "tessera: accuracy of neural networks on simulated analog in-memory-compute tiles and low-precision "
      "digital hardware, over sweeps of noise, drift, converter resolution and bit widths."};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    // What this build runs here: the SIMD level of its CPU kernels and the CUDA backend.
    const simulator::cuda::Availability& cuda = simulator::cuda::availability();
    return std::string("tessera ") + TESSERA_VERSION_STRING + "\nCPU kernels: " +
           std::string(simulator::simd_level_name(simulator::simd_level())) + " (this CPU runs up to " +
           std::string(simulator::simd_level_name(simulator::supported_simd_level())) + "; TESSERA_SIMD lowers it)" +
           "\nCUDA: " + (cuda.available ? cuda.device : cuda.reason);
  });
  app.footer("Run 'tessera COMMAND --help' for a command's options and examples.");

  SweepCommand sweep;
  CLI::App* sweep_app = app.add_subcommand("sweep", "Run a sweep file; finished runs are kept and skipped on rerun");
  sweep_app->add_option("file", sweep.file, "sweep file (YAML)")->required()->check(CLI::ExistingFile);
  sweep_app->add_option("-o,--output", sweep.output, "output folder (default: the file's output.directory)");
  sweep_app->add_option("--shard", sweep.shard, "run only shard i of N (1-based, e.g. 3/8) for job arrays");
  sweep_app->add_option("-j,--threads", sweep.threads, "OpenMP threads (default: all cores; at most 1024)")
      ->check(CLI::Range(1, 1024));
  sweep_app->add_flag("-q,--quiet", sweep.quiet, "no progress line on stderr");
  sweep_app->add_flag("-v,--verbose", sweep.verbose, "print every finished run with its metrics");
  sweep_app->footer(
      "Examples:\n"
      "  tessera sweep examples/fashion_mnist/sweep.yaml\n"
      "  tessera sweep sweep.yaml -o results/run2 --threads 4\n"
      "  tessera sweep sweep.yaml --shard $SLURM_ARRAY_TASK_ID/16   # then once more without --shard to merge\n"
      "  mpirun -n 8 tessera sweep sweep.yaml --threads 1             # ranks share a queue; rank 0 writes\n"
      "Writes points.jsonl (the journal), results.csv, aggregate.csv and plot.png in the output folder.\n"
      "Interrupted? Run the same command again: finished runs are skipped.");

  SweepCommand analyze;
  CLI::App* analyze_app = app.add_subcommand(
      "analyze", "Per-layer quantization sensitivity: each layer quantized alone and all but it (AIMET QuantAnalyzer)");
  analyze_app->add_option("file", analyze.file, "sweep file (YAML): model, data, calibration, hardware, points")
      ->required()
      ->check(CLI::ExistingFile);
  analyze_app->add_option("-o,--output", analyze.output, "output folder (default: <output.directory>/analyze)");
  analyze_app->add_option("-j,--threads", analyze.threads, "OpenMP threads (default: all cores; at most 1024)")
      ->check(CLI::Range(1, 1024));
  analyze_app->add_flag("-q,--quiet", analyze.quiet, "no progress line on stderr");
  analyze_app->footer(
      "Examples:\n"
      "  tessera analyze examples/fashion_mnist/sweep.yaml\n"
      "  mpirun -n 4 tessera analyze quantization.yaml -j 1\n"
      "Runs every point of the file with metrics [top1, layer_top1, layer_snr] (2 x layers + 2 passes per run;\n"
      "finished runs are kept and skipped on rerun) and writes sensitivity.csv (one row per point and layer:\n"
      "float_top1, top1, layer_top1, all_but_top1, drop, layer_snr_db) and sensitivity.png next to the\n"
      "sweep's own files. Prints each point's layers, the most sensitive (lowest top-1 alone) first.");

  std::vector<std::string> validate_files;
  CLI::App* validate_app = app.add_subcommand("validate", "Check sweep files and the model and data they name");
  validate_app->add_option("files", validate_files, "sweep files")->required();
  validate_app->footer(
      "Example:\n  tessera validate examples/fashion_mnist/sweep.yaml\n"
      "Errors name the file, line:column and key path; the exit status is 1.");

  std::string preset_action, preset_name;
  CLI::App* presets_app = app.add_subcommand("presets", "List hardware presets or show one with every field");
  presets_app->add_option("action", preset_action, "list or show")->required()->check(CLI::IsMember({"list", "show"}));
  presets_app->add_option("name", preset_name, "preset to show");
  presets_app->footer(
      "Examples:\n  tessera presets list\n  tessera presets show pcm_inference\n"
      "Presets live in " +
      presets_directory().string() + " (or $TESSERA_PRESETS_DIR).");

  std::string info_model, info_hardware;
  CLI::App* info_app = app.add_subcommand("info", "Show a model's modules, types and parameter counts");
  info_app->add_option("model", info_model, "ONNX file")->required()->check(CLI::ExistingFile);
  info_app->add_option("--hardware", info_hardware, "a sweep file or preset: also show what each module becomes");
  info_app->footer(
      "Examples:\n  tessera info examples/fashion_mnist/fmnist_cnn.onnx\n"
      "  tessera info model.onnx --hardware examples/fashion_mnist/sweep.yaml\n"
      "  tessera info model.onnx --hardware digital_int8");

  try {
    // A bad TESSERA_SIMD is refused before anything runs (kernels read it at their first call).
    simulator::simd_level();
  } catch (const std::exception& error) {
    std::cerr << "tessera: error: " << error.what() << "\n";
    return 1;
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (*sweep_app) return run_sweep_command(sweep, session);
    if (*analyze_app) return analyze_command(analyze, session);
    if (*validate_app) return validate_command(validate_files);
    if (*presets_app) return presets_command(preset_action, preset_name);
    if (*info_app) return info_command(info_model, info_hardware);
  } catch (const std::exception& error) {
    std::cerr << "tessera: error: " << error.what() << "\n";
    if (session.size() > 1) session.abort(1);  // the other ranks would wait for this one forever
    return 1;
  }
  return 0;
}
