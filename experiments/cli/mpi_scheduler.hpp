// Spreading a sweep over MPI ranks: `mpirun -n 4 tessera sweep FILE`. Rank 0 owns the results
// (journal, tables, plot) and hands out runs from a dynamic queue, two at a time per rank so
// that no rank waits for its next run; every rank computes, rank 0 in a helper thread while its
// main thread serves the queue and writes the rows. A run's result depends only on its point
// and seed, so the rows equal those of a single process.
#pragma once

#include "tessera/experiments/sweep_runner.hpp"

namespace tessera::cli {

class MpiSession {
 public:
  /// Initialises MPI when the process was started by mpirun/srun; otherwise a session of one.
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Ends every rank (after an error on one of them, the others would wait forever).
  [[noreturn]] void abort(int code) const;

 private:
  bool initialised_ = false;
  int rank_ = 0;
  int size_ = 1;
};

/// Rank 0's scheduler for run_sweep; always releases the other ranks before it returns.
experiments::RunScheduler mpi_root_scheduler(const MpiSession& session);

/// Every other rank: receives runs, computes them, sends the rows back until told to stop.
/// An error is sent to rank 0, which reports it and aborts the job.
void mpi_worker(const MpiSession& session, const experiments::ComputeRun& compute);

}  // namespace tessera::cli
