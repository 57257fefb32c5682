// IDX files (plain or gzipped): any bytes either read or are refused with std::runtime_error.
#include <cstdint>
#include <stdexcept>

#include "fuzz_input_file.hpp"
#include "tessera/experiments/idx_dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = tessera::fuzz::write_input(data, size, ".idx");
  try {
    tessera::experiments::read_idx(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
