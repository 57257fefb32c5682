// Tables made from result rows, for pandas (pd.read_csv) and for the plot:
//   results.csv     one row per (point, seed)
//   aggregate.csv   one row per point: n_seeds and, per metric, <metric>_mean, <metric>_std
//                   (sample standard deviation) and <metric>_ci95 (half-width of the 95%
//                   Student-t confidence interval of the mean; empty for one seed)
#pragma once

#include <string>
#include <vector>

#include "tessera/experiments/results_journal.hpp"

namespace tessera::experiments {

/// CSV with `leading` columns first, then the other keys of the rows in order of first
/// appearance, then `trailing`; cells a row lacks stay empty (NaN in pandas).
std::string to_csv(const std::vector<ResultRow>& rows, const std::vector<std::string>& leading = {},
                   const std::vector<std::string>& trailing = {});

/// Groups rows by their values of `setting_columns` (every column but the seed) and
/// summarises every numeric column not in `ignored`.
std::vector<ResultRow> aggregate_over_seeds(const std::vector<ResultRow>& rows,
                                            const std::vector<std::string>& setting_columns,
                                            const std::vector<std::string>& ignored);

/// The 97.5 % quantile of Student's t distribution with `dof` degrees of freedom.
double student_t_975(int dof);

}  // namespace tessera::experiments
