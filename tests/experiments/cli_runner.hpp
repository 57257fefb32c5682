// Runs the `tessera` command line from the source folder and captures what it prints.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace tessera::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command from the source folder; stdout and stderr together.
inline CliResult run_shell(const std::string& command) {
  const std::string full = std::string("cd '") + TESSERA_SOURCE_DIR + "' && " + command + " 2>&1";
  CliResult result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Runs `tessera arguments`, behind `launcher` (e.g. "mpirun -n 2") when given.
inline CliResult run_cli(const std::string& arguments, const std::string& launcher = "") {
  return run_shell(launcher + " '" + TESSERA_CLI + "' " + arguments);
}

/// Starts the CLI in the background (output to `log`), behind `launcher` when given, as the
/// leader of a new process group (so that kill(-pid, ...) reaches every MPI rank too), and
/// returns its process id.
inline pid_t start_cli(const std::string& arguments, const std::string& log, const std::string& launcher = "") {
  const std::string command = std::string("cd '") + TESSERA_SOURCE_DIR + "' && exec " + launcher + " '" + TESSERA_CLI +
                              "' " + arguments + " > '" + log + "' 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

/// Waits for a process started by start_cli; returns its exit code, or 128 + the signal
/// that ended it.
inline int wait_cli(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace tessera::testing
