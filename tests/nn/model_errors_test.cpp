// Bad models give one clear error naming the file, node and reason; never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "expect_error.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

using tessera::testing::expect_error;
namespace fs = std::filesystem;
const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";

std::string write_bytes(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

std::string model_bytes() {
  std::ifstream file(kModel, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

TEST(ModelErrors, MissingFile) {
  expect_error<ModelError>([] { load_onnx("/nonexistent/model.onnx"); },
                           "/nonexistent/model.onnx: cannot open the file");
}

TEST(ModelErrors, TruncatedFilesAreRefused) {
  const std::string bytes = model_bytes();
  for (std::size_t length : {bytes.size() / 2, bytes.size() - 7, std::size_t{100}}) {
    const std::string path = write_bytes("tessera_truncated.onnx", bytes.substr(0, length));
    try {
      load_onnx(path);
      ADD_FAILURE() << "a model truncated to " << length << " bytes loaded";
    } catch (const ModelError& error) {
      EXPECT_EQ(std::string(error.what()).rfind(path + ": ", 0), 0u) << error.what();
    }
  }
}

TEST(ModelErrors, RandomBytesAreRefused) {
  std::string garbage(4096, '\0');
  for (std::size_t k = 0; k < garbage.size(); ++k) garbage[k] = static_cast<char>((k * 2654435761u) >> 13);
  const std::string path = write_bytes("tessera_garbage.onnx", garbage);
  EXPECT_THROW(load_onnx(path), ModelError);
}

TEST(ModelErrors, CorruptedBytesNeverCrash) {
  const std::string bytes = model_bytes();
  for (std::size_t flip = 0; flip < 64; ++flip) {
    std::string corrupted = bytes;
    corrupted[(flip * 7919) % 2000] ^= static_cast<char>(0x5a);  // the header and node region
    const std::string path = write_bytes("tessera_corrupted.onnx", corrupted);
    try {
      Model model = load_onnx(path);
      Tensor x({1, 1, 28, 28}, 0.5f);
      model.forward(x);
    } catch (const ModelError&) {  // refused with a message: fine
    } catch (const std::exception& error) {
      ADD_FAILURE() << "flip " << flip << ": unexpected exception type: " << error.what();
    }
  }
}

// Small files from scripts/make_bad_onnx_models.py.
std::string bad_model(const std::string& name) { return std::string(TESSERA_TEST_DATA_DIR) + "/onnx/" + name; }

TEST(ModelErrors, UnsupportedFilesSayWhy) {
  expect_error<UnsupportedError>([] { load_onnx(bad_model("opset18.onnx")); },
                                 "opset18.onnx: opset 18 is outside the supported 6-17");
  expect_error<UnsupportedError>([] { load_onnx(bad_model("custom_domain.onnx")); },
                                 "node 'fancy' (Fancy): operators of domain 'com.example' are not supported");
  expect_error<UnsupportedError>(
      [] { load_onnx(bad_model("sequence_input.onnx")); },
      "graph input 'x' is not a tensor (sequence, map and optional values are not supported)");
  expect_error<UnsupportedError>(
      [] { load_onnx(bad_model("double_initializer.onnx")); },
      "initializer 'w': element type DOUBLE is not supported (float, int64, int32 and bool are)");
  // Found by fuzz_onnx: such a shape escaped as std::length_error instead of a ModelError.
  expect_error<ModelError>([] { load_onnx(bad_model("huge_initializer.onnx")); },
                           "huge_initializer.onnx: initializer 'w': a tensor of shape [100000, 100000, 100000] would "
                           "have more than 2^32 elements");
}

TEST(ModelErrors, EncodingsCannotBeWrittenToAMissingFolder) {
  const Model model = load_onnx(kModel);
  expect_error<ModelError>([&] { save_encodings_json(model, "/nonexistent/folder/encodings.json"); },
                           "/nonexistent/folder/encodings.json: cannot write the encodings file");
}

TEST(ModelErrors, UnsupportedOperatorNamesTheNode) {
  Graph graph;
  graph.source = "handmade.onnx";
  graph.inputs = {"x"};
  graph.outputs = {"y"};
  graph.nodes.push_back(Node{"fancy_0", "Fancy", {"x"}, {"y"}, {}, ""});
  expect_error<UnsupportedError>([&] { Model model(graph); },
                                 "handmade.onnx: node 'fancy_0' (Fancy): operator type 'Fancy' is not supported");
}

TEST(ModelErrors, UndefinedInputNamesTheNode) {
  Graph graph;
  graph.source = "handmade.onnx";
  graph.inputs = {"x"};
  graph.outputs = {"y"};
  graph.nodes.push_back(Node{"relu_0", "Relu", {"z"}, {"y"}, {}, ""});
  expect_error<ModelError>([&] { Model model(graph); },
                           "node 'relu_0' (Relu): input 'z' is not a graph input, an initializer or the output of an "
                           "earlier node");
}

TEST(ModelErrors, ShapeMismatchNamesTheNode) {
  Model model = load_onnx(kModel);
  expect_error<ModelError>(
      [&] {
        model.forward(Tensor({1, 3, 28, 28}));
      },
      "node '/features/features.0/Conv' (Conv): input channels 3, weight [16, 1, 3, 3] and group 1 "
      "do not fit together");
  expect_error<ModelError>([&] { model.run({}); }, "the model takes 1 inputs, got 0");
}

}  // namespace
}  // namespace tessera::nn
