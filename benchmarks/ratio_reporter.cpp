#include "ratio_reporter.hpp"

#include <cstdio>

namespace tessera::benchmarks {

void RatioReporter::add_comparison(std::string group, std::string baseline) {
  baseline_of_group_[std::move(group)] = std::move(baseline);
}

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const Run& run : runs) {
    if (run.run_type != Run::RT_Iteration || run.iterations == 0) continue;
    // GetTimeUnitMultiplier is units per second.
    seconds_per_iteration_[run.benchmark_name()] =
        run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
  }
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  std::printf("\n%-60s %12s %10s\n", "benchmark", "baseline", "time/base");
  for (const auto& [name, seconds] : seconds_per_iteration_) {
    for (const auto& [group, baseline] : baseline_of_group_) {
      if (name.rfind(group, 0) != 0 || name == baseline) continue;
      const auto base = seconds_per_iteration_.find(baseline);
      if (base == seconds_per_iteration_.end()) continue;
      std::printf("%-60s %12s %9.2fx\n", name.c_str(), baseline.c_str(), seconds / base->second);
    }
  }
}

}  // namespace tessera::benchmarks
