#include "ratio_reporter.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace tessera::benchmarks {
namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
  }
  return false;
}

}  // namespace

void RatioReporter::add_comparison(std::string group, std::string baseline) {
  baseline_of_group_[std::move(group)] = std::move(baseline);
}

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  std::vector<Run> aggregates;
  for (const Run& run : runs) {
    if (run.run_type == Run::RT_Aggregate) aggregates.push_back(run);
    if (run.run_type != Run::RT_Iteration || run.iterations == 0) continue;
    // GetTimeUnitMultiplier is units per second.
    seconds_per_iteration_[run.benchmark_name()].push_back(run.GetAdjustedRealTime() /
                                                           benchmark::GetTimeUnitMultiplier(run.time_unit));
  }
  ConsoleReporter::ReportRuns(aggregates.empty() ? runs : aggregates);
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  std::printf("\n%-52s %-34s %8s %8s %5s\n", "benchmark", "baseline", "median", "best", "runs");
  for (const auto& [name, seconds] : seconds_per_iteration_) {
    for (const auto& [group, baseline] : baseline_of_group_) {
      if (name.rfind(group, 0) != 0 || name == baseline) continue;
      const auto base = seconds_per_iteration_.find(baseline);
      if (base == seconds_per_iteration_.end()) continue;
      const double median_ratio = median(seconds) / median(base->second);
      const double best_ratio = *std::min_element(seconds.begin(), seconds.end()) /
                                *std::min_element(base->second.begin(), base->second.end());
      std::printf("%-52s %-34s %7.2fx %7.2fx %5zu\n", name.c_str(), baseline.c_str(), median_ratio, best_ratio,
                  seconds.size());
    }
  }
}

void run_with_ratios(int argc, char** argv, RatioReporter& reporter, int repetitions) {
  std::vector<std::string> arguments(argv, argv + argc);
  if (!has_flag(argc, argv, "--benchmark_repetitions")) {
    arguments.push_back("--benchmark_repetitions=" + std::to_string(repetitions));
  }
  if (!has_flag(argc, argv, "--benchmark_min_time")) {  // many short repetitions interleave finely
    arguments.push_back("--benchmark_min_time=0.2");
  }
  if (!has_flag(argc, argv, "--benchmark_enable_random_interleaving")) {
    arguments.push_back("--benchmark_enable_random_interleaving=true");
  }
  std::vector<char*> pointers;
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  int count = static_cast<int>(pointers.size());
  benchmark::Initialize(&count, pointers.data());
  if (benchmark::ReportUnrecognizedArguments(count, pointers.data())) return;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
}

}  // namespace tessera::benchmarks
