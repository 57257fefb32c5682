// Running a sweep file: every (point, seed) not yet in the output folder's journals is
// converted, programmed, drifted and evaluated, and its row appended at once; afterwards
// results.csv, aggregate.csv and plot.png are rewritten from every row of this sweep.
//   SweepSummary done = run_sweep(load_sweep_file("sweep.yaml"), {.progress = true});
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/experiments/results_journal.hpp"
#include "tessera/experiments/sweep_spec.hpp"

namespace tessera::experiments {

/// One (point, seed) of a sweep and the key its row is stored under.
struct SweepRun {
  std::size_t point = 0;  ///< index into SweepSpec::points
  std::uint64_t seed = 0;
  std::string id;  ///< run_id(...)
};

/// Every run of a sweep: points in file order, each point's seeds in order.
std::vector<SweepRun> list_runs(const SweepSpec& spec);

/// Computes runs of one sweep; loads the model and the data sets once.
class RunEvaluator {
 public:
  /// `should_stop` (optional) is asked between batches; true ends evaluate with SweepInterrupted.
  explicit RunEvaluator(const SweepSpec& spec, std::function<bool()> should_stop = {});
  ~RunEvaluator();
  /// Converts, calibrates (quantized hardware), drifts (analog hardware) and evaluates; the
  /// row holds point_id, the swept values, seed, the metrics, samples and seconds.
  ResultRow evaluate(const SweepRun& run);

 private:
  struct Loaded;
  const SweepSpec& spec_;
  std::function<bool()> should_stop_;
  std::unique_ptr<Loaded> loaded_;
};

/// How the runs still to do are computed: each with `compute`, each row handed to `store` on
/// the calling thread, in any order. The default computes them one after another; the CLI's
/// MPI scheduler spreads them over ranks.
using ComputeRun = std::function<ResultRow(const SweepRun&)>;
using StoreRow = std::function<void(const ResultRow&)>;
using RunScheduler =
    std::function<void(const std::vector<SweepRun>& todo, const ComputeRun& compute, const StoreRow& store)>;

struct SweepOptions {
  int shard_index = 0;  ///< this process runs the runs r with r % shard_count == shard_index
  int shard_count = 1;
  bool progress = false;                                  ///< "points done / total, ETA" on stderr
  std::optional<std::filesystem::path> output_directory;  ///< overrides output.directory
  std::ostream* log = nullptr;                            ///< one line per finished run, if set
  RunScheduler scheduler{};  ///< empty: one after another here; when set, called even with nothing to do
  /// Asked before each run and each batch; true stops the sweep with SweepInterrupted (rows of
  /// finished runs are kept). Python's run_sweep checks for Ctrl-C here.
  std::function<bool()> should_stop{};
};

struct SweepSummary {
  std::int64_t runs = 0;          ///< points x seeds in the file
  std::int64_t already_done = 0;  ///< of this shard's runs, found in the journals
  std::int64_t computed = 0;      ///< run now
  std::int64_t missing = 0;       ///< runs of the file (any shard) still without a row
  std::filesystem::path directory;
  std::vector<std::string> repairs;  ///< partial rows that were cut off
  std::vector<std::string> outputs;  ///< files written
  std::vector<ResultRow> rows;       ///< this sweep's rows found in the folder, in run order
};

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options = {});

/// What identifies a run's result: a 16-hex-digit hash of the model file's bytes, the data
/// and calibration settings, the resolved hardware, t_inference, the seed and the metrics.
std::string run_id(const SweepSpec& spec, const ResolvedPoint& point, std::uint64_t seed,
                   const std::string& model_digest);

/// Hex FNV-1a 64 of a file's bytes.
std::string file_digest(const std::filesystem::path& path);

/// Checks what running needs beyond the file itself: the model loads, every hardware
/// converts it (module names, conflicts), the data loads and fits the model. Throws
/// ConfigError positioned at the key concerned.
void check_sweep_inputs(const SweepSpec& spec);

}  // namespace tessera::experiments
