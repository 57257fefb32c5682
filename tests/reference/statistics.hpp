// Sample statistics for the noise tests (double accumulation, unbiased variance).
#pragma once

#include <cmath>
#include <numeric>
#include <vector>

namespace tessera::reference {

template <class T>
double mean_of(const std::vector<T>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

template <class T>
double stddev_of(const std::vector<T>& values) {
  const double mean = mean_of(values);
  double sum = 0.0;
  for (T value : values) sum += (value - mean) * (value - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

}  // namespace tessera::reference
