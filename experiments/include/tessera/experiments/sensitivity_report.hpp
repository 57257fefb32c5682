// Per-layer quantization sensitivity (AIMET QuantAnalyzer's per-layer analysis, torch.ao
// Numeric Suite's per-layer comparison) from the aggregated rows of a sweep run with
// metrics: [layer_top1] (and layer_snr for each layer's own output SNR):
//   sensitivity.csv  one row per (point, converted module) in model order: the point's
//                    settings, module, position (1-based), n_seeds, float_top1, top1 (every
//                    module on its hardware), layer_top1 (only this one) with its ci95,
//                    all_but_top1 (every module but this one), drop = float_top1 - layer_top1,
//                    layer_snr_db (this module's own output against float, alone)
//   sensitivity.png  layer_top1 and all_but_top1 against the position, one pair of lines per
//                    point, float top-1 as a dashed line
// `tessera analyze FILE` runs a sweep file this way and prints the layers most sensitive first.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tessera/experiments/line_plot.hpp"
#include "tessera/experiments/results_journal.hpp"
#include "tessera/experiments/sweep_spec.hpp"

namespace tessera::experiments {

/// What `tessera analyze` runs: the file's points with metrics [top1, layer_top1, layer_snr],
/// into <output.directory>/analyze (so its journal stays apart from the sweep's own).
SweepSpec analysis_spec(SweepSpec spec);

/// The rows of sensitivity.csv; points without layer_top1 columns (no converted module) add none.
std::vector<ResultRow> sensitivity_rows(const SweepSpec& spec, const std::vector<ResultRow>& aggregated);

/// The plot of sensitivity_rows(...); no series when there are none.
LinePlot sensitivity_plot(const SweepSpec& spec, const std::vector<ResultRow>& sensitivity);

/// Writes sensitivity.csv and, when output.plot is on, sensitivity.png; returns their paths
/// (none when no point has layer_top1 columns).
std::vector<std::string> write_sensitivity_report(const SweepSpec& spec, const std::vector<ResultRow>& aggregated,
                                                  const std::filesystem::path& directory);

}  // namespace tessera::experiments
