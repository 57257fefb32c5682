#include "tessera/experiments/results_tables.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace tessera::experiments {

namespace {

std::string cell(const ResultRow& value) {
  if (value.is_null()) return "";
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  }
  return value.dump();
}

}  // namespace

std::string to_csv(const std::vector<ResultRow>& rows, const std::vector<std::string>& leading) {
  std::vector<std::string> columns = leading;
  for (const ResultRow& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
    }
  }
  std::string text;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c) text += ",";
    text += cell(columns[c]);
  }
  text += "\n";
  for (const ResultRow& row : rows) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c) text += ",";
      if (row.contains(columns[c])) text += cell(row[columns[c]]);
    }
    text += "\n";
  }
  return text;
}

double student_t_975(int dof) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) return std::nan("");
  if (dof <= 30) return kTable[dof - 1];
  return 1.959964 + 2.37 / dof;  // within 0.002 of the exact quantile above 30 degrees of freedom
}

std::vector<ResultRow> aggregate_over_seeds(const std::vector<ResultRow>& rows,
                                            const std::vector<std::string>& setting_columns,
                                            const std::vector<std::string>& ignored) {
  std::vector<std::string> keys;  // group keys in first-seen order
  std::map<std::string, std::vector<const ResultRow*>> groups;
  for (const ResultRow& row : rows) {
    ResultRow settings = ResultRow::object();
    for (const std::string& column : setting_columns) {
      if (row.contains(column)) settings[column] = row[column];
    }
    const std::string key = settings.dump();
    if (!groups.contains(key)) keys.push_back(key);
    groups[key].push_back(&row);
  }
  std::vector<ResultRow> aggregated;
  for (const std::string& key : keys) {
    const std::vector<const ResultRow*>& members = groups[key];
    ResultRow out = ResultRow::parse(key);
    out["n_seeds"] = members.size();
    for (const auto& [metric, first_value] : members.front()->items()) {
      if (!first_value.is_number() ||
          std::find(setting_columns.begin(), setting_columns.end(), metric) != setting_columns.end() ||
          std::find(ignored.begin(), ignored.end(), metric) != ignored.end()) {
        continue;
      }
      std::vector<double> values;
      for (const ResultRow* member : members) {
        if (member->contains(metric) && (*member)[metric].is_number())
          values.push_back((*member)[metric].get<double>());
      }
      double mean = 0.0;
      for (double v : values) mean += v;
      mean /= static_cast<double>(values.size());
      out[metric + "_mean"] = mean;
      if (values.size() < 2) {
        out[metric + "_std"] = nullptr;
        out[metric + "_ci95"] = nullptr;
        continue;
      }
      double squares = 0.0;
      for (double v : values) squares += (v - mean) * (v - mean);
      const double std = std::sqrt(squares / static_cast<double>(values.size() - 1));
      out[metric + "_std"] = std;
      out[metric + "_ci95"] =
          student_t_975(static_cast<int>(values.size()) - 1) * std / std::sqrt(static_cast<double>(values.size()));
    }
    aggregated.push_back(std::move(out));
  }
  return aggregated;
}

}  // namespace tessera::experiments
