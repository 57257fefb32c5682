#include "tessera/experiments/sensitivity_report.hpp"

#include <map>
#include <set>
#include <utility>

#include "tessera/experiments/results_tables.hpp"
#include "tessera/experiments/sweep_report.hpp"

namespace tessera::experiments {
namespace fs = std::filesystem;

namespace {

const std::string kAlone = "layer_top1.";
const std::string kMean = "_mean";

// The converted modules of an aggregated row, in the order the runner measured them (the
// model's), from its layer_top1.<module>_mean columns.
std::vector<std::string> modules_of(const ResultRow& row) {
  std::vector<std::string> modules;
  for (const auto& [column, value] : row.items()) {
    if (column.size() > kAlone.size() + kMean.size() && column.starts_with(kAlone) && column.ends_with(kMean)) {
      modules.push_back(column.substr(kAlone.size(), column.size() - kAlone.size() - kMean.size()));
    }
  }
  return modules;
}

// Copies row[from] to out[to] when it is a number (a metric a run lacked stays empty).
void copy_number(const ResultRow& row, const std::string& from, ResultRow& out, const std::string& to) {
  if (row.contains(from) && row[from].is_number()) out[to] = row[from];
}

}  // namespace

SweepSpec analysis_spec(SweepSpec spec) {
  spec.metrics = {"top1", "layer_top1", "layer_snr"};
  spec.output_directory /= "analyze";
  return spec;
}

std::vector<ResultRow> sensitivity_rows(const SweepSpec& spec, const std::vector<ResultRow>& aggregated) {
  std::vector<ResultRow> table;
  for (const ResultRow& point : aggregated) {
    const std::vector<std::string> modules = modules_of(point);
    for (std::size_t i = 0; i < modules.size(); ++i) {
      const std::string& module = modules[i];
      ResultRow row = ResultRow::object();
      for (const std::string& column : spec.columns) {
        if (point.contains(column)) row[column] = point[column];
      }
      row["module"] = module;
      row["position"] = i + 1;
      copy_number(point, "n_seeds", row, "n_seeds");
      copy_number(point, "float_top1_mean", row, "float_top1");
      copy_number(point, "top1_mean", row, "top1");
      copy_number(point, kAlone + module + "_mean", row, "layer_top1");
      copy_number(point, kAlone + module + "_ci95", row, "layer_top1_ci95");
      copy_number(point, "all_but_top1." + module + "_mean", row, "all_but_top1");
      copy_number(point, "all_but_top1." + module + "_ci95", row, "all_but_top1_ci95");
      if (row.contains("float_top1")) row["drop"] = row["float_top1"].get<double>() - row["layer_top1"].get<double>();
      copy_number(point, "layer_snr_db." + module + "_mean", row, "layer_snr_db");
      table.push_back(std::move(row));
    }
  }
  return table;
}

LinePlot sensitivity_plot(const SweepSpec& spec, const std::vector<ResultRow>& sensitivity) {
  // Lines are named by the settings that differ between points (the legend has little room).
  std::vector<std::string> varying;
  for (const std::string& column : spec.columns) {
    std::set<std::string> values;
    for (const ResultRow& row : sensitivity) values.insert(row.contains(column) ? row[column].dump() : "");
    if (values.size() > 1) varying.push_back(column);
  }
  if (varying.empty()) varying.emplace_back("hardware");
  LinePlot plot;
  plot.title = spec.model.filename().string() + ": top-1 with one layer on its hardware (alone), and all but it";
  plot.x_label = "layer (position in sensitivity.csv)";
  plot.y_label = "top1 (mean over seeds, 95% CI)";
  std::vector<std::string> labels;
  std::map<std::string, std::pair<Series, Series>> lines;  // per point: only this layer, all but it
  for (const ResultRow& row : sensitivity) {
    const std::string label = settings_label(row, varying);
    if (!lines.contains(label)) {
      labels.push_back(label);
      lines[label] = {Series{label + ": alone", {}, {}, {}}, Series{label + ": all but", {}, {}, {}}};
    }
    auto& [alone, all_but] = lines[label];
    const double x = row["position"].get<double>();
    alone.x.push_back(x);
    alone.y.push_back(row["layer_top1"].get<double>());
    alone.error.push_back(row.value("layer_top1_ci95", 0.0));
    if (row.contains("all_but_top1")) {
      all_but.x.push_back(x);
      all_but.y.push_back(row["all_but_top1"].get<double>());
      all_but.error.push_back(row.value("all_but_top1_ci95", 0.0));
    }
  }
  for (const std::string& label : labels) {
    plot.series.push_back(lines[label].first);
    if (!lines[label].second.x.empty()) plot.series.push_back(lines[label].second);
  }
  if (!sensitivity.empty() && sensitivity.front().contains("float_top1")) {
    plot.series.push_back(Series{"float", {}, {sensitivity.front()["float_top1"].get<double>()}, {}});
  }
  return plot;
}

std::vector<std::string> write_sensitivity_report(const SweepSpec& spec, const std::vector<ResultRow>& aggregated,
                                                  const fs::path& directory) {
  const std::vector<ResultRow> table = sensitivity_rows(spec, aggregated);
  if (table.empty()) return {};
  std::vector<std::string> written;
  const fs::path csv = directory / "sensitivity.csv";
  write_file_atomically(csv, to_csv(table, spec.columns));
  written.push_back(csv.string());
  if (spec.plot.enabled) {
    const fs::path png = directory / "sensitivity.png";
    save_png(sensitivity_plot(spec, table), png);
    written.push_back(png.string());
  }
  return written;
}

}  // namespace tessera::experiments
