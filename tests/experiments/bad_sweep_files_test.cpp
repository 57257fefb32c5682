// The corpus of bad sweep files (tests/data/sweeps/bad): `tessera validate` must refuse each
// with exit status 1 and the message its first line states ("# expect: :line:col: key: ...",
// following the file name).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "experiments/cli_runner.hpp"

namespace tessera::experiments {
namespace {

namespace fs = std::filesystem;
using tessera::testing::run_cli;
using tessera::testing::run_shell;

TEST(BadSweepFiles, EachIsRefusedWithItsMessageAndExitStatusOne) {
  const fs::path folder = fs::path(TESSERA_TEST_DATA_DIR) / "sweeps" / "bad";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u);
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::string first_line;
    std::getline(in, first_line);
    const std::string marker = "# expect: ";
    ASSERT_EQ(first_line.rfind(marker, 0), 0u) << file << " lacks its '# expect: ' line";
    const std::string relative = "tests/data/sweeps/bad/" + file.filename().string();
    const std::string expected = "tessera: error: " + relative + first_line.substr(marker.size());
    const auto result = run_cli("validate " + relative);
    EXPECT_EQ(result.exit_code, 1) << relative << "\n" << result.output;
    EXPECT_NE(result.output.find(expected), std::string::npos)
        << relative << "\nprinted:  " << result.output << "expected: " << expected;
  }
}

TEST(BadSweepFiles, TheBundledSweepsValidate) {
  const auto result = run_cli(
      "validate examples/fashion_mnist/sweep.yaml examples/fashion_mnist_resnet/sweep.yaml "
      "examples/fashion_mnist_resnet/quantization.yaml");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ok (17 points x 3 seeds = 51 runs; hardware: pcm int8 int4)"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("ok (15 points x 5 seeds = 75 runs; hardware: pcm pcm_correlation pcm_columnwise)"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("ok (27 points x 1 seed = 27 runs; hardware: float w8a8_per_tensor w4a8_per_tensor "
                               "w8a8 w4a8)"),
            std::string::npos)
      << result.output;
}

TEST(Cli, HelpOfEachCommandShowsExamples) {
  for (const char* command : {"sweep", "analyze", "validate", "presets", "info"}) {
    const auto result = run_cli(std::string(command) + " --help");
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.output.find("Example"), std::string::npos) << command << ":\n" << result.output;
  }
  const auto top = run_cli("--help");
  EXPECT_NE(top.output.find("sweep"), std::string::npos);
}

TEST(Cli, UsageErrorsExitNonZero) {
  EXPECT_NE(run_cli("").exit_code, 0);
  EXPECT_NE(run_cli("frobnicate").exit_code, 0);
  EXPECT_NE(run_cli("sweep no_such_file.yaml").exit_code, 0);
  const auto shard = run_cli("sweep tests/data/sweeps/tiny.yaml --shard 3/2 -o /tmp/tessera_never_written");
  EXPECT_EQ(shard.exit_code, 1);
  EXPECT_NE(shard.output.find("--shard 3/2: expected 1 <= i <= N"), std::string::npos) << shard.output;
  const auto threads = run_cli("sweep tests/data/sweeps/tiny.yaml -j 1000000 -o /tmp/tessera_never_written");
  EXPECT_NE(threads.exit_code, 0);
  EXPECT_NE(threads.output.find("--threads: Value 1000000 not in range 1 to 1024"), std::string::npos) << threads.output;
  const auto unknown = run_cli("presets show pcm_inferense");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("did you mean 'pcm_inference'?"), std::string::npos) << unknown.output;
}

TEST(Cli, VersionNamesTheKernelLevelAndABadSimdLevelIsRefused) {
  const auto version = run_cli("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("CPU kernels: "), std::string::npos) << version.output;
  EXPECT_NE(version.output.find("CUDA: "), std::string::npos) << version.output;
  const auto generic = run_shell("TESSERA_SIMD=generic '" + std::string(TESSERA_CLI) + "' --version");
  EXPECT_NE(generic.output.find("CPU kernels: generic"), std::string::npos) << generic.output;
  const auto unknown = run_shell("TESSERA_SIMD=sse9 '" + std::string(TESSERA_CLI) + "' presets list");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("TESSERA_SIMD: unknown SIMD level 'sse9' (expected generic, avx2 or avx512)"),
            std::string::npos)
      << unknown.output;
}

TEST(Cli, PresetsListNamesEveryRequiredPreset) {
  const auto result = run_cli("presets list");
  ASSERT_EQ(result.exit_code, 0);
  for (const char* name :
       {"ideal", "pcm_inference", "reram_wan2022", "standard_hwa", "digital_int8", "digital_int4_w_int8_a"}) {
    EXPECT_NE(result.output.find(name), std::string::npos) << name;
  }
}

TEST(Cli, InfoShowsModulesAndWhatEachBecomes) {
  const auto result =
      run_cli("info examples/fashion_mnist/fmnist_cnn.onnx --hardware examples/fashion_mnist/sweep.yaml");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("classifier.1                 Linear                     200832  [128, 1568]"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("total parameters: 206922"), std::string::npos);
  EXPECT_NE(result.output.find("features.0  Conv2d -> AnalogConv2d  (module type)"), std::string::npos);
  EXPECT_NE(result.output.find("features.0  Conv2d -> QuantConv2d  (module_qconfig_map[Conv2d])"), std::string::npos);
  // --hardware also takes a preset, by name or as a file.
  const auto by_name = run_cli("info examples/fashion_mnist/fmnist_cnn.onnx --hardware digital_int8");
  EXPECT_NE(by_name.output.find("classifier.3  Linear -> QuantLinear  (module_qconfig_map[Linear])"), std::string::npos)
      << by_name.output;
  const auto by_file = run_cli("info examples/fashion_mnist/fmnist_cnn.onnx --hardware presets/ideal.yaml");
  EXPECT_NE(by_file.output.find("classifier.3  Linear -> AnalogLinear  (module type)"), std::string::npos)
      << by_file.output;
}

TEST(Cli, ProgressGoesToATerminalOnlyWithAnEta) {
  // `script` (util-linux, in every Debian) gives the program a pseudo-terminal, as a user's shell.
  const std::string folder = "/tmp/tessera_test_cli_progress";
  std::filesystem::remove_all(folder);
  const auto on_terminal =
      tessera::testing::run_shell(std::string("script -qec \"'") + TESSERA_CLI +
                                  "' sweep tests/data/sweeps/tiny.yaml -j 2 -o " + folder + "\" /dev/null");
  EXPECT_EQ(on_terminal.exit_code, 0) << on_terminal.output;
  EXPECT_NE(on_terminal.output.find("10/10 runs  elapsed"), std::string::npos) << on_terminal.output;
  EXPECT_NE(on_terminal.output.find("ETA"), std::string::npos) << on_terminal.output;
  std::filesystem::remove_all(folder);
  const auto piped = run_cli("sweep tests/data/sweeps/tiny.yaml -j 2 -o " + folder);
  EXPECT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.output.find("runs  elapsed"), std::string::npos) << "a progress line in a pipe:\n" << piped.output;
}

}  // namespace
}  // namespace tessera::experiments
