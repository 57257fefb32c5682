#include "mpi_scheduler.hpp"

#include <mpi.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tessera::cli {
namespace {

using experiments::ComputeRun;
using experiments::ResultRow;
using experiments::StoreRow;
using experiments::SweepRun;

// Message tags. Workers say hello once, then send one row per finished run (which also asks
// for the next run); rank 0 answers with runs and finally with stop.
enum Tag : int { kHello = 1, kRow = 2, kError = 3, kWork = 4, kStop = 5 };

constexpr int kRunsInHand = 2;  // per worker: the one it computes and the next

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

void send(const std::string& text, int destination, Tag tag) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, destination, tag, MPI_COMM_WORLD);
}

struct Message {
  int source = 0;
  int tag = 0;
  std::string text;
};

// The next message, waiting for one when `wait`; nullopt when none is there.
std::optional<Message> receive(bool wait) {
  MPI_Status status;
  int found = 1;
  if (wait) {
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
  } else {
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &found, &status);
  }
  if (!found) return std::nullopt;
  int length = 0;
  MPI_Get_count(&status, MPI_CHAR, &length);
  Message message{status.MPI_SOURCE, status.MPI_TAG, std::string(static_cast<std::size_t>(length), '\0')};
  MPI_Recv(message.text.data(), length, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return message;
}

std::string encode(const SweepRun& run) {
  return ResultRow{{"point", run.point}, {"seed", run.seed}, {"id", run.id}}.dump();
}

SweepRun decode(const std::string& text) {
  const ResultRow json = ResultRow::parse(text);
  return {json["point"].get<std::size_t>(), json["seed"].get<std::uint64_t>(), json["id"].get<std::string>()};
}

// The runs still to hand out, shared by rank 0's main thread and its computing thread.
class RunQueue {
 public:
  explicit RunQueue(const std::vector<SweepRun>& runs) : runs_(runs.begin(), runs.end()) {}
  std::optional<SweepRun> take() {
    std::lock_guard lock(mutex_);
    if (runs_.empty()) return std::nullopt;
    SweepRun run = runs_.front();
    runs_.pop_front();
    return run;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    runs_.clear();
  }

 private:
  std::mutex mutex_;
  std::deque<SweepRun> runs_;
};

// Rank 0's own share of the work, computed beside the main thread, which alone talks MPI and
// writes rows.
class LocalWorker {
 public:
  LocalWorker(RunQueue& queue, const ComputeRun& compute) {
    const int threads = omp_get_max_threads();  // the -j setting, which a new thread does not inherit
    thread_ = std::thread([this, &queue, &compute, threads] {
      omp_set_num_threads(threads);
      try {
        while (const auto run = queue.take()) {
          ResultRow row = compute(*run);
          std::lock_guard lock(mutex_);
          rows_.push_back(std::move(row));
        }
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      done_ = true;
    });
  }
  ~LocalWorker() { thread_.join(); }

  /// Hands finished rows to `store`; rethrows the thread's error. True once it is done and
  /// every row was handed over.
  bool drain(const StoreRow& store, bool& progressed) {
    std::deque<ResultRow> rows;
    bool done = false;
    {
      std::lock_guard lock(mutex_);
      if (error_) std::rethrow_exception(error_);
      rows.swap(rows_);
      done = done_;
    }
    for (const ResultRow& row : rows) store(row);
    progressed = progressed || !rows.empty();
    return done;
  }

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::deque<ResultRow> rows_;
  std::exception_ptr error_;
  bool done_ = false;
};

void serve(const std::vector<SweepRun>& todo, const ComputeRun& compute, const StoreRow& store, int ranks) {
  RunQueue queue(todo);
  std::vector<int> in_hand(static_cast<std::size_t>(ranks), 0);
  int stopped = 0;
  const auto hand_out = [&](int worker) {
    while (in_hand[worker] < kRunsInHand) {
      const auto run = queue.take();
      if (!run) break;
      send(encode(*run), worker, kWork);
      ++in_hand[worker];
    }
    if (in_hand[worker] == 0) {
      send("", worker, kStop);
      ++stopped;
    }
  };
  LocalWorker local(queue, compute);
  try {
    bool local_done = false;
    while (!local_done || stopped < ranks - 1) {
      bool progressed = false;
      local_done = local.drain(store, progressed);
      while (const auto message = receive(false)) {
        progressed = true;
        if (message->tag == kError) {
          throw std::runtime_error("rank " + std::to_string(message->source) + ": " + message->text);
        }
        if (message->tag == kRow) {
          --in_hand[message->source];
          store(ResultRow::parse(message->text));
        }
        hand_out(message->source);
      }
      if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  } catch (...) {
    queue.clear();  // the local thread stops after its current run, before `local` is joined
    throw;
  }
}

}  // namespace

MpiSession::MpiSession(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (initialised_) MPI_Finalize();
}

void MpiSession::abort(int code) const {
  if (initialised_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

experiments::RunScheduler mpi_root_scheduler(const MpiSession& session) {
  const int ranks = session.size();
  return [ranks](const std::vector<SweepRun>& todo, const ComputeRun& compute, const StoreRow& store) {
    serve(todo, compute, store, ranks);
  };
}

void mpi_worker(const MpiSession&, const ComputeRun& compute) {
  send("", 0, kHello);
  std::deque<SweepRun> runs;
  bool stop = false;
  while (true) {
    // Take in what has arrived; wait only when there is nothing to compute.
    while (const auto message = receive(runs.empty() && !stop)) {
      if (message->tag == kStop) stop = true;
      if (message->tag == kWork) runs.push_back(decode(message->text));
    }
    if (runs.empty()) {
      if (stop) return;
      continue;
    }
    const SweepRun run = runs.front();
    runs.pop_front();
    try {
      send(compute(run).dump(), 0, kRow);
    } catch (const std::exception& error) {
      send(error.what(), 0, kError);
      return;
    }
  }
}

}  // namespace tessera::cli
