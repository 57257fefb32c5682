// Scratch folders and whole-file reads for tests that write results to disk.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace tessera::testing {

/// An empty folder under the system's temporary directory, named after the test and this
/// process (two test runs on one machine must not share folders).
inline std::filesystem::path fresh_folder(const std::string& name) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("tessera_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  return folder;
}

/// The bytes of a file ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace tessera::testing
