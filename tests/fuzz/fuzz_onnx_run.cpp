// ONNX models run: any bytes either load and run on inputs of their declared shapes (small),
// or are refused with an nn error. Attribute values an operator reads (perm, axes, pads,
// strides, ...) are checked before use, so hostile ones give messages, never reads past a buffer.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>

#include "fuzz_input_file.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace {

using tessera::nn::Value;

// Declared input shapes, dynamic or absent dimensions taken as 2; nothing larger than 4096
// elements is run.
std::vector<Value> inputs_for(const std::string& path, const tessera::nn::Model& model) {
  onnx::ModelProto proto;
  std::ifstream file(path, std::ios::binary);
  proto.ParseFromIstream(&file);
  std::vector<Value> inputs;
  for (std::size_t i = 0; i < model.graph().inputs.size(); ++i) {
    tessera::simulator::Shape shape;
    for (const auto& input : proto.graph().input()) {
      if (input.name() != model.graph().inputs[i]) continue;
      for (const auto& dim : input.type().tensor_type().shape().dim()) {
        const std::int64_t d = dim.has_dim_value() ? dim.dim_value() : 2;
        shape.push_back(d >= 0 && d <= 64 ? d : 2);
      }
    }
    std::int64_t count = 1;
    for (std::int64_t d : shape) count *= d;
    if (count > 4096) return {};
    tessera::simulator::Tensor tensor(shape);
    for (std::int64_t k = 0; k < tensor.size(); ++k) tensor[k] = static_cast<float>(k % 5) - 2.0f;
    inputs.push_back(Value{model.graph().input_types[i], std::move(tensor)});
  }
  return inputs;
}

}  // namespace

// A model may ask for tensors of any size (Expand to a huge shape); tessera refuses those beyond
// the memory it may use, here 64 MiB per tensor, so that one input stays a quick test.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TESSERA_MEMORY_LIMIT_MB", "64", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = tessera::fuzz::write_input(data, size, ".onnx");
  try {
    tessera::nn::Model model = tessera::nn::load_onnx(path);
    const std::vector<Value> inputs = inputs_for(path, model);
    if (inputs.size() == model.graph().inputs.size()) model.run(inputs);
  } catch (const tessera::nn::ModelError&) {
  }
  return 0;
}
