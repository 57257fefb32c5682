// Presets and sweeps: the same files the `tessera` command line reads.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "tessera/experiments/evaluation.hpp"
#include "numpy_tensor.hpp"
#include "tessera/experiments/idx_dataset.hpp"
#include "tessera/experiments/presets.hpp"
#include "tessera/experiments/sensitivity_report.hpp"
#include "tessera/experiments/sweep_report.hpp"
#include "tessera/experiments/sweep_runner.hpp"
#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/simulator/backend.hpp"
#include "tessera/simulator/cpu_features.hpp"

namespace py = pybind11;

namespace tessera::python {
namespace {

// Runs a sweep for Python: Ctrl-C stops it within a batch (Python's handler only runs when
// asked, and the sweep asks between batches), keeping the journal of finished runs.
experiments::SweepSummary run_interruptibly(const experiments::SweepSpec& spec,
                                            const std::optional<std::filesystem::path>& output_directory,
                                            bool progress) {
  experiments::SweepOptions options;
  options.output_directory = output_directory;
  options.progress = progress;
  options.should_stop = [] {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
  try {
    py::gil_scoped_release release;
    return experiments::run_sweep(spec, options);
  } catch (const experiments::SweepInterrupted&) {
    if (PyErr_Occurred() != nullptr) throw py::error_already_set();  // the KeyboardInterrupt itself
    throw;
  }
}

}  // namespace

void bind_experiments(py::module_& m) {
  m.def(
      "cuda_availability",
      [] {
        const simulator::cuda::Availability& probe = simulator::cuda::availability();
        return py::dict(py::arg("available") = probe.available, py::arg("reason") = probe.reason,
                        py::arg("device") = probe.device);
      },
      "Whether the CUDA backend can run here: {'available', 'reason' (why not), 'device'}.");
  m.def(
      "simd_level", [] { return std::string(simulator::simd_level_name(simulator::simd_level())); },
      "The SIMD level tessera's CPU kernels use: 'avx512', 'avx2' or 'generic' (the best this CPU runs, or "
      "lower as $TESSERA_SIMD or set_simd_level asks).");
  m.def(
      "supported_simd_level",
      [] { return std::string(simulator::simd_level_name(simulator::supported_simd_level())); },
      "The best SIMD level this CPU runs: 'avx512' (x86-64-v4), 'avx2' (x86-64-v3) or 'generic'.");
  m.def(
      "set_simd_level", [](const std::string& level) { simulator::set_simd_level(simulator::simd_level_from_name(level)); },
      py::arg("level"),
      "Makes the CPU kernels use 'generic', 'avx2' or 'avx512' from now on (e.g. to compare paths); ValueError when "
      "the name is unknown or the CPU does not run it. Random numbers, quantizers and element steps are "
      "bit-identical on every level; products are bit-identical between avx512 and avx2.");
  m.def(
      "load_idx_dataset",
      [](const std::string& images, const std::string& labels, float mean, float std, std::int64_t limit) {
        experiments::Dataset data = experiments::load_idx_dataset(images, labels, {mean, std}, limit);
        py::array_t<std::int64_t> classes(static_cast<py::ssize_t>(data.labels.size()));
        std::copy(data.labels.begin(), data.labels.end(), classes.mutable_data());
        return py::make_tuple(to_numpy(std::move(data.images)), classes);
      },
      py::arg("images"), py::arg("labels"), py::arg("mean") = 0.0f, py::arg("std") = 1.0f, py::arg("limit") = 0,
      "Reads an IDX image/label pair (MNIST, Fashion-MNIST; gzipped or not): images as float32 [N, 1, H, W] "
      "normalised as (x/255 - mean) / std, labels as int64. limit > 0 reads the first `limit` samples.");
  m.def("preset_names", &experiments::preset_names, "The bundled hardware presets.");
  m.def("_use_presets_directory", &experiments::use_presets_directory, py::arg("folder"),
        "Where presets are found unless $TESSERA_PRESETS_DIR says otherwise (an installed package's copy).");
  m.def(
      "load_preset",
      [](const std::string& name_or_path) {
        const experiments::Preset preset = experiments::load_preset(name_or_path);
        py::dict result(py::arg("name") = preset.name, py::arg("description") = preset.description,
                        py::arg("file") = preset.file);
        result["analog"] = preset.analog ? py::cast(*preset.analog) : py::none();
        result["quantization"] = preset.quantization ? py::cast(*preset.quantization) : py::none();
        return result;
      },
      py::arg("name_or_path"),
      "A preset by name ('pcm_inference') or YAML file: a dict with name, description, file and either "
      "analog (InferenceRPUConfig) or quantization (QuantizationMap).");
  m.def(
      "sweep_run_count",
      [](const std::filesystem::path& file) {
        const experiments::SweepSpec spec = experiments::load_sweep_file(file);
        experiments::check_sweep_inputs(spec);
        return experiments::list_runs(spec).size();
      },
      py::arg("file"), "Checks a sweep file and its inputs (like `tessera validate`); returns its number of runs.");
  m.def(
      "run_sweep",
      [](const std::filesystem::path& file, const std::optional<std::filesystem::path>& output_directory,
         bool progress) {
        const experiments::SweepSummary summary =
            run_interruptibly(experiments::load_sweep_file(file), output_directory, progress);
        return py::dict(py::arg("runs") = summary.runs, py::arg("already_done") = summary.already_done,
                        py::arg("computed") = summary.computed, py::arg("missing") = summary.missing,
                        py::arg("directory") = summary.directory, py::arg("outputs") = summary.outputs);
      },
      py::arg("file"), py::arg("output_directory") = py::none(), py::arg("progress") = false,
      "Runs (or resumes) a sweep file like `tessera sweep`; results.csv in the output folder reads with "
      "pandas.read_csv.");
  m.def(
      "analyze",
      [](const std::filesystem::path& file, const std::optional<std::filesystem::path>& output_directory,
         bool progress) {
        const experiments::SweepSpec spec = experiments::analysis_spec(experiments::load_sweep_file(file));
        const experiments::SweepSummary summary = run_interruptibly(spec, output_directory, progress);
        const std::vector<experiments::ResultRow> rows =
            experiments::sensitivity_rows(spec, experiments::aggregate_sweep(spec, summary.rows));
        return py::module_::import("json").attr("loads")(experiments::ResultRow(rows).dump());
      },
      py::arg("file"), py::arg("output_directory") = py::none(), py::arg("progress") = false,
      "Per-layer sensitivity like `tessera analyze`: runs the file's points with metrics [top1, layer_top1, "
      "layer_snr] into <output.directory>/analyze (or output_directory) and returns sensitivity.csv's rows as "
      "dicts: settings, module, position, n_seeds, float_top1, top1, layer_top1, all_but_top1, drop, layer_snr_db.");
}

}  // namespace tessera::python
