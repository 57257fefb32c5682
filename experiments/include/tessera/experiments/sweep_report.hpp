// The files a sweep leaves next to its journals, rewritten from the rows after every run:
//   results.csv    one row per (point, seed): point_id, hardware, every swept path, seed,
//                  the metrics, samples, seconds
//   aggregate.csv  one row per point: mean, std and 95 % CI half-width of each metric over seeds
//   plot.png       output.plot.y (mean, 95 % CI bars) against output.plot.x, one line per value
//                  of output.plot.lines; points that do not sweep x become dashed reference lines
//   sensitivity.*  with metrics: [layer_top1], the per-layer table and plot (sensitivity_report.hpp)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tessera/experiments/line_plot.hpp"
#include "tessera/experiments/results_journal.hpp"
#include "tessera/experiments/sweep_spec.hpp"

namespace tessera::experiments {

/// One row per point: the settings, n_seeds and each metric's mean, std and ci95 over seeds.
std::vector<ResultRow> aggregate_sweep(const SweepSpec& spec, const std::vector<ResultRow>& rows);

/// "w4a8, fuse_activations=true": a row's values of `columns` (hardware by its name, other
/// paths by their last part).
std::string settings_label(const ResultRow& row, const std::vector<std::string>& columns);

/// Writes the three files (the plot only when the grid has a numeric axis); returns their paths.
std::vector<std::string> write_sweep_report(const SweepSpec& spec, const std::vector<ResultRow>& rows,
                                            const std::filesystem::path& directory);

/// The plot of aggregated rows, or nullopt-like empty series when no axis suits one.
LinePlot sweep_plot(const SweepSpec& spec, const std::vector<ResultRow>& aggregated);

}  // namespace tessera::experiments
