// Encodings saved by one model load into another converted the same way (the torch front end's
// export path), and every way a file can fail to fit is refused with the file, tensor and reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "expect_error.hpp"
#include "tessera/nn/conversion.hpp"
#include "tessera/nn/encodings.hpp"
#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"
#include "tessera/simulator/random_stream.hpp"

namespace tessera::nn {
namespace {

using tessera::testing::expect_error;
namespace fs = std::filesystem;
const std::string kModel = TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx";

parameters::QuantizationMap int8_map() {
  parameters::QuantizationMap map;
  parameters::QuantizedModuleConfig entry;
  entry.module_qconfig.weight_quant.n_bits = 8;
  entry.module_qconfig.activation_quant.n_bits = 8;
  entry.module_qconfig.activation_quant.symmetric = false;
  map.module_qconfig_map["Conv2d"] = entry;
  map.module_qconfig_map["Linear"] = entry;
  return map;
}

Tensor images() {
  Tensor x({8, 1, 28, 28});
  simulator::RandomStream(3).fill_normal(x.values());
  return x;
}

Model converted() { return convert_to_quantized(load_onnx(kModel), int8_map()); }

struct Saved {
  std::string path;
  nlohmann::json document;
  std::string activation;  // the name of one quantized activation tensor
};

Saved calibrated_encodings() {
  Model model = converted();
  model.compute_encodings([](Model& m) { m.forward(images()); });
  Saved saved{(fs::temp_directory_path() / ("tessera_encodings_" + std::to_string(::getpid()) + ".json")).string(),
              nlohmann::json::parse(encodings_json(model)), ""};
  saved.activation = saved.document["activation_encodings"].begin().key();
  return saved;
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(EncodingsLoad, LoadedEncodingsReproduceTheCalibratedModel) {
  Model calibrated = converted();
  calibrated.compute_encodings([](Model& m) { m.forward(images()); });
  const std::string path = write(calibrated_encodings().path, encodings_json(calibrated));
  Model loaded = converted();
  load_encodings_json(loaded, path);
  EXPECT_EQ(loaded.forward(images()), calibrated.forward(images()));
  EXPECT_EQ(encodings_json(loaded), encodings_json(calibrated));
}

TEST(EncodingsLoad, FilesThatDoNotFitAreRefusedNamingTensorAndReason) {
  const Saved saved = calibrated_encodings();
  const std::string where = saved.path + ": activation_encodings." + saved.activation;
  auto refused = [&](nlohmann::json document, const std::string& message) {
    Model model = converted();
    write(saved.path, document.dump());
    expect_error<ModelError>([&] { load_encodings_json(model, saved.path); }, message);
  };
  Model model = converted();
  expect_error<ModelError>([&] { load_encodings_json(model, "/nonexistent/e.json"); },
                           "/nonexistent/e.json: cannot open the encodings file");
  write(saved.path, "{\"activation_encodings\": [");
  expect_error<ModelError>([&] { load_encodings_json(model, saved.path); }, saved.path + ": not valid JSON: ");

  nlohmann::json missing = saved.document;
  missing["activation_encodings"].erase(saved.activation);
  refused(missing, where + ": missing; the model quantizes this tensor (output of a ");

  nlohmann::json two = saved.document;
  two["activation_encodings"][saved.activation].push_back(two["activation_encodings"][saved.activation][0]);
  refused(two, where + ": expected a list of 1 encodings, found 2 entries");

  nlohmann::json no_scale = saved.document;
  no_scale["activation_encodings"][saved.activation][0].erase("scale");
  refused(no_scale, where + "[0]: expected numbers 'scale' and integer 'offset'");

  nlohmann::json bits = saved.document;
  bits["activation_encodings"][saved.activation][0]["bitwidth"] = 4;
  refused(bits, where + "[0]: bitwidth 4 but the model quantizes it to 8 bits");

  nlohmann::json negative = saved.document;
  negative["activation_encodings"][saved.activation][0]["scale"] = -1.0;
  refused(negative, where + ": encoding 0: scale must be finite and > 0, got -1");
}

TEST(EncodingsLoad, ModuleEncodingsNameTheModuleAndRole) {
  Model model = converted();
  expect_error<ModelError>([&] { set_module_encodings(model, "features.9", "output", {{1.0f}}, {{0}}); },
                           "fmnist_cnn.onnx: no module 'features.9'");
  expect_error<ModelError>(
      [&] { set_module_encodings(model, "features.0", "input", {{1.0f}}, {{0}}); },
      "fmnist_cnn.onnx: module 'features.0' has no input quantizer (roles are input, weight, output; is the model "
      "converted?)");
  expect_error<ModelError>(
      [&] { set_module_encodings(model, "features.0", "output", {{0.05f}}, {{-128}}); },
      "fmnist_cnn.onnx: module 'features.0', output quantizer: encoding 0: zero point -128 outside the grid [0, 255]");
  set_module_encodings(model, "features.0", "output", {{0.05f}}, {{128}});
}

}  // namespace
}  // namespace tessera::nn
