// A console reporter that, after the usual table, prints each benchmark's time as a ratio
// to a baseline benchmark measured in the same run (speed goals are stated as such ratios).
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>

namespace tessera::benchmarks {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  /// Benchmarks whose name starts with `group` are compared with `baseline` (full name).
  void add_comparison(std::string group, std::string baseline);

  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::map<std::string, double> seconds_per_iteration_;
  std::map<std::string, std::string> baseline_of_group_;
};

}  // namespace tessera::benchmarks
