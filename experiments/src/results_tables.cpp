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

std::string to_csv(const std::vector<ResultRow>& rows, const std::vector<std::string>& leading,
                   const std::vector<std::string>& trailing) {
  std::vector<std::string> columns = leading;
  const auto listed = [&](const std::string& key) {
    return std::find(columns.begin(), columns.end(), key) != columns.end() ||
           std::find(trailing.begin(), trailing.end(), key) != trailing.end();
  };
  for (const ResultRow& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (!listed(key)) columns.push_back(key);
    }
  }
  columns.insert(columns.end(), trailing.begin(), trailing.end());
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
  // Exact quantiles below 10 degrees of freedom; above, the Cornish-Fisher expansion around
  // the normal quantile, which is within 1e-5 of the exact value from 10 on.
  static constexpr double kSmall[] = {12.706205, 4.302653, 3.182446, 2.776445, 2.570582,
                                      2.446912,  2.364624, 2.306004, 2.262157};
  if (dof < 1) return std::nan("");
  if (dof < 10) return kSmall[dof - 1];
  const double z = 1.959963984540054;
  const double n = dof;
  const double z2 = z * z;
  return z + z * (z2 + 1) / (4 * n) + z * ((5 * z2 + 16) * z2 + 3) / (96 * n * n) +
         z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / (384 * n * n * n) +
         z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / (92160 * n * n * n * n);
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
      // Equal values (a digital point repeated over seeds) have no spread, not a rounding residue.
      const bool all_equal = std::all_of(values.begin(), values.end(), [&](double v) { return v == values.front(); });
      const double std = all_equal ? 0.0 : std::sqrt(squares / static_cast<double>(values.size() - 1));
      out[metric + "_std"] = std;
      out[metric + "_ci95"] =
          student_t_975(static_cast<int>(values.size()) - 1) * std / std::sqrt(static_cast<double>(values.size()));
    }
    aggregated.push_back(std::move(out));
  }
  return aggregated;
}

}  // namespace tessera::experiments
