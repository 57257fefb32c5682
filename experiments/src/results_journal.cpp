#include "tessera/experiments/results_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tessera::experiments {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& what, int error) {
  throw std::runtime_error(path.string() + ": " + what + " (" + std::strerror(error) + ")");
}

void write_all(int fd, const std::string& text, const fs::path& path) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, "cannot write", n < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

ResultsJournal::ResultsJournal(const fs::path& directory, const std::string& journal_name)
    : path_(directory / journal_name) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error)
    throw std::runtime_error(directory.string() + ": cannot create the output folder (" + error.message() + ")");
  std::vector<fs::path> journals;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("points") && name.ends_with(".jsonl")) journals.push_back(entry.path());
  }
  std::sort(journals.begin(), journals.end());
  for (const fs::path& journal : journals) read_journal(journal);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, "cannot open the results file for writing", errno);
}

ResultsJournal::~ResultsJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsJournal::read_journal(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read", errno);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    ++line;
    if (end == std::string::npos) {
      // A row without its newline was being written when the process died: cut it off.
      std::error_code error;
      fs::resize_file(path, start, error);
      if (error) throw std::runtime_error(path.string() + ": cannot cut off a partial row (" + error.message() + ")");
      repairs_.push_back(path.string() + ":" + std::to_string(line) + ": dropped a partial row (" +
                         std::to_string(text.size() - start) + " bytes); its point runs again");
      break;
    }
    const std::string row_text = text.substr(start, end - start);
    start = end + 1;
    if (row_text.empty()) continue;
    ResultRow row = ResultRow::parse(row_text, nullptr, false);
    if (row.is_discarded() || !row.is_object() || !row.contains("point_id") || !row["point_id"].is_string()) {
      throw std::runtime_error(path.string() + ":" + std::to_string(line) +
                               ": not a result row (a JSON object with a point_id); fix or delete the line");
    }
    const std::string id = row["point_id"].get<std::string>();
    rows_[id] = std::move(row);
  }
}

void ResultsJournal::append(const ResultRow& row) {
  const std::string line = row.dump() + "\n";
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  try {
    write_all(fd_, line, path_);
    if (::fsync(fd_) != 0) fail(path_, "cannot flush to disk", errno);
  } catch (...) {
    if (size >= 0 && ::ftruncate(fd_, size) != 0) {
      // Nothing more to do: the partial row will be cut off when the folder is opened again.
    }
    throw;
  }
  rows_[row["point_id"].get<std::string>()] = row;
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  // The temporary is the writer's own: shards of one sweep write the same reports at once, and
  // with a shared name one rename took the other's file away ("cannot replace").
  fs::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(temporary, "cannot create", errno);
  try {
    write_all(fd, text, temporary);
    if (::fsync(fd) != 0) fail(temporary, "cannot flush to disk", errno);
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail(path, "cannot replace", error);
  }
}

}  // namespace tessera::experiments
