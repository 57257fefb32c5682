// The crash-safe record of a sweep: one JSON object per finished (point, seed) per line, in
// journals named points*.jsonl inside the output folder (one per process or shard, so that
// writers never share a file). A row is appended with a single write() and fsync'd; a row cut
// short by a crash is found when the folder is opened again, reported and cut off, so the
// point is computed again. A complete line that is not a JSON object stops the load with its
// file and line: nothing is read silently.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::experiments {

using ResultRow = nlohmann::ordered_json;

class ResultsJournal {
 public:
  /// Creates `directory` if needed, reads every journal in it and opens `journal_name` for
  /// appending. Throws std::runtime_error (naming the path and the system's reason) when the
  /// folder cannot be created or written, so no work starts that could not be saved.
  ResultsJournal(const std::filesystem::path& directory, const std::string& journal_name);
  ~ResultsJournal();
  ResultsJournal(const ResultsJournal&) = delete;
  ResultsJournal& operator=(const ResultsJournal&) = delete;

  /// Rows by point_id, from every journal of the folder and from this run.
  const std::map<std::string, ResultRow>& rows() const { return rows_; }
  bool contains(const std::string& point_id) const { return rows_.contains(point_id); }
  /// Appends one row (which must have a "point_id"); throws std::runtime_error when the disk
  /// refuses it, leaving the journal as it was.
  void append(const ResultRow& row);
  /// One line per partial row that was cut off while opening.
  const std::vector<std::string>& repairs() const { return repairs_; }

 private:
  void read_journal(const std::filesystem::path& path);

  std::filesystem::path path_;
  int fd_ = -1;
  std::map<std::string, ResultRow> rows_;
  std::vector<std::string> repairs_;
};

/// Writes `text` to `path` through a temporary file of this process and a rename, so readers
/// see the old or the new file, never half of one, also while other processes write it. Throws
/// std::runtime_error naming the path.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace tessera::experiments
