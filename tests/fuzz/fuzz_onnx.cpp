// ONNX import: any bytes either load into a model or are refused with an nn error.
#include <cstdint>

#include "fuzz_input_file.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = tessera::fuzz::write_input(data, size, ".onnx");
  try {
    tessera::nn::load_onnx(path);
  } catch (const tessera::nn::ModelError&) {
  }
  return 0;
}
