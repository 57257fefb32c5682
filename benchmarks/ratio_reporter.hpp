// A console reporter that, after the usual table, prints each benchmark's time as a ratio
// to a baseline benchmark measured in the same run (speed goals are stated as such ratios).
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace tessera::benchmarks {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  /// Benchmarks whose name starts with `group` are compared with `baseline` (full name).
  void add_comparison(std::string group, std::string baseline);

  /// With repetitions, the table shows their aggregates and the ratios use every repetition.
  void ReportRuns(const std::vector<Run>& runs) override;
  /// Ratios of the median times and of the best times (noise on a shared machine only adds
  /// time, so the best of several repetitions is the steadier estimate).
  void Finalize() override;

 private:
  std::map<std::string, std::vector<double>> seconds_per_iteration_;
  std::map<std::string, std::string> baseline_of_group_;
};

/// Initialises Google Benchmark and runs every registered benchmark through `reporter`. Unless
/// the command line chooses otherwise, each case runs `repetitions` times for 0.2 s in random
/// order among the others, so that a machine whose speed drifts during the run slows cases and
/// baselines alike instead of whichever happened to run then.
void run_with_ratios(int argc, char** argv, RatioReporter& reporter, int repetitions = 15);

}  // namespace tessera::benchmarks
