#include "tessera/experiments/sweep_report.hpp"

#include <algorithm>
#include <map>

#include "tessera/experiments/results_tables.hpp"
#include "tessera/experiments/sensitivity_report.hpp"

namespace tessera::experiments {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kNotMetrics{"seed", "samples", "seconds"};

std::string short_name(const std::string& path) {
  const std::size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string text_of(const ResultRow& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", value.get<double>());
    return buffer;
  }
  return value.dump();
}

// The x axis: as asked, else t_inference when swept, else the first numeric swept path
// with more than one value.
std::string choose_x(const SweepSpec& spec, const std::vector<ResultRow>& rows) {
  if (!spec.plot.x.empty()) return spec.plot.x;
  std::vector<std::string> candidates;
  if (std::find(spec.columns.begin(), spec.columns.end(), "t_inference") != spec.columns.end()) {
    candidates.push_back("t_inference");
  }
  candidates.insert(candidates.end(), spec.columns.begin(), spec.columns.end());
  for (const std::string& column : candidates) {
    std::vector<double> values;
    bool numeric = true;
    for (const ResultRow& row : rows) {
      if (!row.contains(column)) continue;
      numeric = numeric && row[column].is_number();
      if (numeric) values.push_back(row[column].get<double>());
    }
    std::sort(values.begin(), values.end());
    if (numeric && std::unique(values.begin(), values.end()) - values.begin() > 1) return column;
  }
  return "";
}

}  // namespace

std::string settings_label(const ResultRow& row, const std::vector<std::string>& columns) {
  std::string label;
  for (const std::string& column : columns) {
    if (!row.contains(column)) continue;
    const bool duration = column == "t_inference" && row[column].is_number();
    const std::string value = duration ? duration_label(row[column].get<double>()) : text_of(row[column]);
    label += (label.empty() ? "" : ", ") + (column == "hardware" ? value : short_name(column) + "=" + value);
  }
  return label;
}

std::vector<ResultRow> aggregate_sweep(const SweepSpec& spec, const std::vector<ResultRow>& rows) {
  return aggregate_over_seeds(rows, spec.columns, kNotMetrics);
}

LinePlot sweep_plot(const SweepSpec& spec, const std::vector<ResultRow>& aggregated) {
  LinePlot plot;
  const std::string x = choose_x(spec, aggregated);
  if (x.empty()) return plot;
  std::string y = spec.plot.y;
  if (std::find(spec.metrics.begin(), spec.metrics.end(), y) == spec.metrics.end()) y = spec.metrics.front();
  plot.x_label = x == "t_inference" ? "t_inference (time after programming)" : x;
  plot.y_label = y + " (mean over seeds, 95% CI)";
  plot.title = spec.model.filename().string() + ": " + y + " vs " + short_name(x);
  plot.log_x = spec.plot.log_x || x == "t_inference";
  if (x == "t_inference") plot.x_tick_label = duration_label;

  std::vector<std::string> line_columns;
  if (!spec.plot.lines.empty()) {
    // Hardware always separates lines: different hardware never shares one.
    if (spec.hardware.size() > 1 && spec.plot.lines != "hardware") line_columns.push_back("hardware");
    line_columns.push_back(spec.plot.lines);
  } else {
    for (const std::string& column : spec.columns) {
      if (column != x) line_columns.push_back(column);
    }
  }
  std::vector<std::string> labels;
  std::map<std::string, Series> series;
  for (const ResultRow& row : aggregated) {
    if (!row.contains(y + "_mean") || !row[y + "_mean"].is_number()) continue;
    std::string label = settings_label(row, line_columns);
    if (!row.contains(x)) label += label.empty() ? "(no " + short_name(x) + ")" : "";
    if (!series.contains(label)) labels.push_back(label);
    Series& s = series[label];
    s.label = label;
    s.y.push_back(row[y + "_mean"].get<double>());
    s.error.push_back(row.contains(y + "_ci95") && row[y + "_ci95"].is_number() ? row[y + "_ci95"].get<double>() : 0.0);
    if (row.contains(x) && row[x].is_number()) s.x.push_back(row[x].get<double>());
  }
  for (const std::string& label : labels) {
    Series s = series[label];
    if (s.x.size() != s.y.size()) {  // a reference line: the mean over its points
      double mean = 0.0;
      for (double v : s.y) mean += v;
      s = Series{label, {}, {mean / static_cast<double>(s.y.size())}, {}};
    } else {  // sort by x
      std::vector<std::size_t> order(s.x.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s.x[a] < s.x[b]; });
      Series sorted{label, {}, {}, {}};
      for (std::size_t i : order)
        sorted.x.push_back(s.x[i]), sorted.y.push_back(s.y[i]), sorted.error.push_back(s.error[i]);
      s = std::move(sorted);
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

std::vector<std::string> write_sweep_report(const SweepSpec& spec, const std::vector<ResultRow>& rows,
                                            const fs::path& directory) {
  // The settings first, then the metrics (every snr column of every hardware), then the
  // bookkeeping: samples, seconds and the run's key. The journal calls that key "point_id" (kept
  // so that folders written before still resume); it names one run, a (point, seed), so the
  // table calls it run_id: grouping by it must not look like grouping by point.
  std::vector<std::string> leading = spec.columns;
  leading.push_back("seed");
  const std::vector<std::string> trailing{"samples", "seconds", "run_id"};
  std::vector<ResultRow> table = rows;
  for (ResultRow& row : table) {
    if (!row.contains("point_id")) continue;
    row["run_id"] = row["point_id"];
    row.erase("point_id");
  }
  std::vector<std::string> written;
  const fs::path results = directory / "results.csv";
  write_file_atomically(results, to_csv(table, leading, trailing));
  written.push_back(results.string());

  const std::vector<ResultRow> aggregated = aggregate_sweep(spec, rows);
  const fs::path aggregate = directory / "aggregate.csv";
  write_file_atomically(aggregate, to_csv(aggregated, spec.columns));
  written.push_back(aggregate.string());

  if (spec.plot.enabled && !aggregated.empty()) {
    const LinePlot plot = sweep_plot(spec, aggregated);
    if (!plot.series.empty()) {
      const fs::path png = directory / "plot.png";
      save_png(plot, png);
      written.push_back(png.string());
    }
  }
  if (std::find(spec.metrics.begin(), spec.metrics.end(), "layer_top1") != spec.metrics.end()) {
    for (std::string& path : write_sensitivity_report(spec, aggregated, directory)) written.push_back(std::move(path));
  }
  return written;
}

}  // namespace tessera::experiments
