// Fuzz inputs for readers that take a path: the bytes go to one scratch file per process.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace tessera::fuzz {

inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& suffix) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tessera_fuzz_" + std::to_string(::getpid()) + suffix)).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

}  // namespace tessera::fuzz
