// ONNX's own conformance data (Debian's libonnx-testdata): every node and pytorch-converted
// case is loaded and run in float mode. A case whose operators or element types are not
// simulated is counted as unsupported (UnsupportedError); every other case must match the
// expected outputs (rtol 1e-3, atol 1e-5, ONNX's backend-test tolerances with float32 slack).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "tessera/nn/errors.hpp"
#include "tessera/nn/onnx_import.hpp"

namespace tessera::nn {
namespace {

namespace fs = std::filesystem;
const fs::path kData = "/usr/share/libonnx-testdata/data";

struct Outcome {
  enum Kind { kPassed, kFailed, kUnsupported } kind;
  std::string detail;
};

std::vector<fs::path> sorted_files(const fs::path& folder, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) files.push_back(entry.path());
  }
  // input_10 after input_9: order by the number after the prefix.
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    return std::stoi(a.stem().string().substr(prefix.size())) < std::stoi(b.stem().string().substr(prefix.size()));
  });
  return files;
}

std::string compare(const Value& got, const Value& expected) {
  if (got.tensor.shape() != expected.tensor.shape()) {
    return "shape " + simulator::shape_to_string(got.tensor.shape()) + " != expected " +
           simulator::shape_to_string(expected.tensor.shape());
  }
  for (std::int64_t k = 0; k < got.tensor.size(); ++k) {
    const double g = got.tensor[k], e = expected.tensor[k];
    if (std::isnan(e) && std::isnan(g)) continue;
    if (std::isinf(e) && g == e) continue;
    if (!(std::abs(g - e) <= 1e-5 + 1e-3 * std::abs(e))) {
      return "element " + std::to_string(k) + ": " + std::to_string(g) + " != expected " + std::to_string(e);
    }
  }
  return "";
}

Outcome run_case(const fs::path& folder) {
  try {
    Model model = load_onnx((folder / "model.onnx").string());
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (!entry.is_directory()) continue;
      std::vector<Value> inputs, expected;
      for (const fs::path& file : sorted_files(entry.path(), "input_"))
        inputs.push_back(load_onnx_tensor(file.string()));
      for (const fs::path& file : sorted_files(entry.path(), "output_"))
        expected.push_back(load_onnx_tensor(file.string()));
      const std::vector<Value> outputs = model.run(inputs);
      for (std::size_t o = 0; o < expected.size(); ++o) {
        const std::string problem = compare(outputs.at(o), expected[o]);
        if (!problem.empty())
          return {Outcome::kFailed, entry.path().filename().string() + " output " + std::to_string(o) + ": " + problem};
      }
    }
    return {Outcome::kPassed, ""};
  } catch (const UnsupportedError& error) {
    return {Outcome::kUnsupported, error.what()};
  } catch (const std::exception& error) {
    return {Outcome::kFailed, error.what()};
  }
}

void run_suite(const std::string& suite, int minimum_passed) {
  const fs::path root = kData / suite;
  if (!fs::exists(root)) GTEST_SKIP() << root << " is missing: install libonnx-testdata (scripts/install_deps.sh)";
  std::map<Outcome::Kind, int> counts;
  std::vector<std::string> failures;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root)) cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  for (const fs::path& folder : cases) {
    const Outcome outcome = run_case(folder);
    ++counts[outcome.kind];
    if (outcome.kind == Outcome::kFailed) failures.push_back(folder.filename().string() + ": " + outcome.detail);
    if (outcome.kind == Outcome::kUnsupported && std::getenv("TESSERA_CONFORMANCE_VERBOSE") != nullptr) {
      std::cout << "unsupported " << folder.filename().string() << ": " << outcome.detail << "\n";
    }
  }
  std::cout << suite << ": " << counts[Outcome::kPassed] << " passed, " << counts[Outcome::kFailed] << " failed, "
            << counts[Outcome::kUnsupported] << " unsupported of " << cases.size() << "\n";
  for (const std::string& failure : failures) ADD_FAILURE() << failure;
  EXPECT_GE(counts[Outcome::kPassed], minimum_passed);
}

TEST(OnnxConformance, NodeCases) { run_suite("node", 280); }
TEST(OnnxConformance, PytorchConvertedCases) { run_suite("pytorch-converted", 82); }

}  // namespace
}  // namespace tessera::nn
