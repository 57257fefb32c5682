// The build without MPI (no mpi.h found): every process is a session of one, so the MPI
// scheduler is never asked for.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "mpi_scheduler.hpp"

namespace tessera::cli {

MpiSession::MpiSession(int&, char**&) {
  // Under mpirun every copy of this build would run the whole sweep into the same folder.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) size = std::getenv("PMI_SIZE");
  if (size != nullptr && std::string(size) != "1") {
    std::fprintf(stderr,
                 "tessera: error: started by mpirun, but this tessera was built without MPI "
                 "(install libopenmpi-dev, rebuild; or use --shard i/N)\n");
    std::exit(1);
  }
}
MpiSession::~MpiSession() = default;

void MpiSession::abort(int code) const { std::exit(code); }

experiments::RunScheduler mpi_root_scheduler(const MpiSession&) {
  throw std::logic_error("tessera was built without MPI (install libopenmpi-dev and rebuild)");
}

void mpi_worker(const MpiSession&, const experiments::ComputeRun&) {
  throw std::logic_error("tessera was built without MPI (install libopenmpi-dev and rebuild)");
}

}  // namespace tessera::cli
