// Running sweeps end to end on tests/data/sweeps/tiny.yaml (5 points x 2 seeds on the bundled
// Fashion-MNIST CNN, 64 images): every run once, a rerun computes nothing, SIGKILL at several
// moments and resuming gives exactly the rows of an uninterrupted run, whatever the thread
// count; shards merge to the single-process result; the ideal preset reproduces torch.
#include "tessera/experiments/sweep_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "experiments/cli_runner.hpp"
#include "experiments/scratch_files.hpp"
#include "tessera/experiments/dataset.hpp"

namespace tessera::experiments {
namespace {

namespace fs = std::filesystem;
using tessera::testing::run_cli;
using tessera::testing::start_cli;
using tessera::testing::wait_cli;

const std::string kTiny = "tests/data/sweeps/tiny.yaml";

using tessera::testing::fresh_folder;
using tessera::testing::read_text;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every row of a results folder by point_id, without the timing, which no two runs share.
std::map<std::string, ResultRow> result_set(const fs::path& folder) {
  std::map<std::string, ResultRow> rows;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("points") || entry.path().extension() != ".jsonl") continue;
    for (const std::string& line : lines_of(read_text(entry.path()))) {
      ResultRow row = ResultRow::parse(line);
      row.erase("seconds");
      const std::string id = row["point_id"].get<std::string>();
      EXPECT_FALSE(rows.contains(id)) << "duplicate row " << id << " in " << entry.path();
      rows[id] = row;
    }
  }
  return rows;
}

std::size_t journal_lines(const fs::path& journal) {
  const std::string text = read_text(journal);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The uninterrupted single-thread run every other way of running must reproduce.
const std::map<std::string, ResultRow>& reference_rows() {
  static const std::map<std::string, ResultRow> rows = [] {
    // Per process: ctest runs the tests of this file side by side.
    const fs::path folder = fresh_folder("sweep_reference_" + std::to_string(::getpid()));
    const auto result = run_cli("sweep " + kTiny + " -q -j 1 -o " + folder.string());
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result_set(folder);
  }();
  return rows;
}

TEST(SweepRunner, RunsEveryPointOnceWritesTheTablesAndARerunComputesNothing) {
  const fs::path folder = fresh_folder("sweep_once");
  const SweepSpec spec = load_sweep_file(fs::path(TESSERA_TEST_DATA_DIR) / "sweeps" / "tiny.yaml");
  const SweepSummary first = run_sweep(spec, {.output_directory = folder});
  EXPECT_EQ(first.runs, 10);
  EXPECT_EQ(first.computed, 10);
  EXPECT_EQ(first.missing, 0);
  const auto results = lines_of(read_text(folder / "results.csv"));
  ASSERT_EQ(results.size(), 11u);
  EXPECT_TRUE(results[0].starts_with("hardware,t_inference,analog.forward.out_res,seed,top1,top3,loss,")) << results[0];
  EXPECT_NE(results[0].find("snr_db."), std::string::npos) << results[0];
  EXPECT_TRUE(results[1].starts_with("pcm,0,62,0,")) << results[1];
  EXPECT_TRUE(results[10].starts_with("int8,,,1,")) << results[10];
  const auto aggregate = lines_of(read_text(folder / "aggregate.csv"));
  ASSERT_EQ(aggregate.size(), 6u);
  EXPECT_NE(aggregate[0].find("n_seeds,top1_mean,top1_std,top1_ci95"), std::string::npos) << aggregate[0];
  EXPECT_TRUE(fs::file_size(folder / "plot.png") > 1000);

  const SweepSummary again = run_sweep(spec, {.output_directory = folder});
  EXPECT_EQ(again.computed, 0);
  EXPECT_EQ(again.already_done, 10);
  EXPECT_EQ(journal_lines(folder / "points.jsonl"), 10u);
}

TEST(SweepRunner, ResultsDoNotDependOnTheThreadCount) {
  const fs::path folder = fresh_folder("sweep_two_threads");
  const auto result = run_cli("sweep " + kTiny + " -q -j 2 -o " + folder.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result_set(folder), reference_rows());
}

// The MPI launcher the tests use, or "" when tessera was built without MPI.
std::string mpi_launcher() {
#ifdef TESSERA_MPIEXEC
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);  // CI runs as root
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  return std::string(TESSERA_MPIEXEC) + " -n 2 --oversubscribe";
#else
  return "";
#endif
}

// Kills a sweep (every process of it) at five moments: before the first row and after 2, 4, 6
// and 8 rows; then lets it finish. The rows must be those of the uninterrupted run.
void kill_five_times_then_finish(const fs::path& folder, const std::string& launcher) {
  const fs::path journal = folder / "points.jsonl";
  int kills = 0;
  for (const std::size_t rows_before_kill : {0u, 2u, 4u, 6u, 8u}) {
    const pid_t pid =
        start_cli("sweep " + kTiny + " -q -j 1 -o " + folder.string(), folder.string() + ".log", launcher);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (rows_before_kill > 0 && std::chrono::steady_clock::now() < deadline &&
           (!fs::exists(journal) || journal_lines(journal) <= rows_before_kill)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (rows_before_kill == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(-pid, SIGKILL);
    if (wait_cli(pid) == 128 + SIGKILL) ++kills;
  }
  EXPECT_EQ(kills, 5) << "the sweep finished before it could be killed";
  ASSERT_TRUE(fs::exists(journal));
  EXPECT_LT(journal_lines(journal), 10u);

  const auto resumed = run_cli("sweep " + kTiny + " -j 1 -o " + folder.string(), launcher);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(result_set(folder), reference_rows());
  EXPECT_EQ(journal_lines(journal), 10u);
}

TEST(SweepRunner, SigkillAtFiveMomentsThenResumingGivesTheUninterruptedRows) {
  kill_five_times_then_finish(fresh_folder("sweep_killed"), "");
}

TEST(SweepRunnerMpi, TwoRanksGiveTheSingleProcessRows) {
  const std::string launcher = mpi_launcher();
  if (launcher.empty()) GTEST_SKIP() << "tessera was built without MPI (libopenmpi-dev not found)";
  const fs::path folder = fresh_folder("sweep_mpi");
  const auto result = run_cli("sweep " + kTiny + " -q -j 1 -o " + folder.string(), launcher);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("10 runs (5 points x 2 seeds), 2 MPI ranks: 10 computed, 0 already done"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result_set(folder), reference_rows());
  EXPECT_EQ(lines_of(read_text(folder / "results.csv")).size(), 11u);
  // Only rank 0 writes: one journal.
  EXPECT_FALSE(fs::exists(folder / "points.shard-1-of-2.jsonl"));
}

TEST(SweepRunnerMpi, SigkillOfTheWholeJobAtFiveMomentsThenResuming) {
  const std::string launcher = mpi_launcher();
  if (launcher.empty()) GTEST_SKIP() << "tessera was built without MPI (libopenmpi-dev not found)";
  kill_five_times_then_finish(fresh_folder("sweep_mpi_killed"), launcher);
}

TEST(SweepRunnerMpi, ShardsUnderMpirunAreRefusedOnEveryRank) {
  const std::string launcher = mpi_launcher();
  if (launcher.empty()) GTEST_SKIP() << "tessera was built without MPI (libopenmpi-dev not found)";
  const auto result =
      run_cli("sweep " + kTiny + " --shard 1/2 -o " + fresh_folder("sweep_mpi_shard").string(), launcher);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("under mpirun the ranks share it already"), std::string::npos) << result.output;
}

TEST(SweepRunner, ATruncatedRowIsReportedAndComputedAgain) {
  const fs::path folder = fresh_folder("sweep_truncated");
  ASSERT_EQ(run_cli("sweep " + kTiny + " -q -o " + folder.string()).exit_code, 0);
  const fs::path journal = folder / "points.jsonl";
  const std::string text = read_text(journal);
  const std::size_t last_line = text.rfind('\n', text.size() - 2) + 1;
  fs::resize_file(journal, last_line + 20);  // the last row cut mid-line

  const auto result = run_cli("sweep " + kTiny + " -q -o " + folder.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("points.jsonl:10: dropped a partial row (20 bytes); its point runs again"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("1 computed"), std::string::npos) << result.output;
  EXPECT_EQ(result_set(folder), reference_rows());
}

TEST(SweepRunner, ShardsMergeIntoTheSingleProcessResult) {
  const fs::path folder = fresh_folder("sweep_shards");
  const pid_t first =
      start_cli("sweep " + kTiny + " -q -j 1 --shard 1/2 -o " + folder.string(), folder.string() + ".1.log");
  const pid_t second =
      start_cli("sweep " + kTiny + " -q -j 1 --shard 2/2 -o " + folder.string(), folder.string() + ".2.log");
  EXPECT_EQ(wait_cli(first), 0) << read_text(folder.string() + ".1.log");
  EXPECT_EQ(wait_cli(second), 0) << read_text(folder.string() + ".2.log");
  EXPECT_EQ(journal_lines(folder / "points.shard-1-of-2.jsonl"), 5u);
  EXPECT_EQ(journal_lines(folder / "points.shard-2-of-2.jsonl"), 5u);

  const auto merge = run_cli("sweep " + kTiny + " -q -o " + folder.string());
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  EXPECT_NE(merge.output.find("0 computed"), std::string::npos) << merge.output;
  EXPECT_EQ(result_set(folder), reference_rows());
  EXPECT_EQ(lines_of(read_text(folder / "results.csv")).size(), 11u);
}

// A data (or calibration) section: the first `limit` Fashion-MNIST test images.
std::string test_images_section(int limit) {
  return "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
         "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n"
         "  normalization: {mean: 0.2860, std: 0.3530}\n"
         "  limit: " +
         std::to_string(limit) + "\n";
}

// Runs the sweep `text` (its file and results in fresh folders named after `name`); its rows.
std::map<std::string, ResultRow> run_in_folder(const std::string& text, const std::string& name) {
  const SweepSpec spec = load_sweep_string(text, fresh_folder(name) / "sweep.yaml");
  const fs::path folder = fresh_folder(name + "_results");
  run_sweep(spec, {.output_directory = folder});
  return result_set(folder);
}

// A sweep of a bundled model (path under the source tree) on the first `images` test images,
// calibrated on them, with `body` (hardware, sweep, metrics) after: its rows by point id.
std::map<std::string, ResultRow> run_bundled(const std::string& model, const std::string& body,
                                             const std::string& folder, int images = 64) {
  const std::string data = test_images_section(images);
  return run_in_folder("model: " TESSERA_SOURCE_DIR "/" + model + "\ndata:\n" + data + "calibration:\n" + data + body,
                       folder);
}

// layer_snr: each converted layer alone on its hardware, its own output against float. The first
// layer sees float inputs in the whole model too, so its value equals its cumulative snr; every
// later layer alone does at least as well as with the errors of the layers before it (here
// strictly, at 6-bit ADC). Quantized hardware gets the same per-layer columns.
TEST(SweepRunner, LayerSnrIsolatesEachConvertedLayerWithTheSameNoiseDraws) {
  const auto rows = run_bundled("examples/fashion_mnist/fmnist_cnn.onnx",
                                "hardware:\n"
                                "  pcm: {analog: {preset: pcm_inference, rpu_config: {forward: {out_res: 62}}}}\n"
                                "  int4: {quantization: {preset: digital_int4_w_int8_a}}\n"
                                "sweep: {grids: [{product: {hardware: [pcm, int4]}}]}\n"
                                "t_inference: 1d\n"
                                "metrics: [top1, snr, layer_snr]\n",
                                "sweep_layer_snr");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [id, row] : rows) {
    const std::string hardware = row["hardware"].get<std::string>();
    const std::vector<std::string> layers{"features.0", "features.3", "classifier.1", "classifier.3"};
    for (const std::string& layer : layers) {
      ASSERT_TRUE(row.contains("layer_snr_db." + layer)) << hardware << ": " << row.dump();
      EXPECT_TRUE(std::isfinite(row["layer_snr_db." + layer].get<double>())) << hardware << " " << layer;
    }
    if (hardware != "pcm") continue;
    EXPECT_NEAR(row["layer_snr_db.features.0"].get<double>(), row["snr_db.features.0"].get<double>(), 1e-9);
    for (std::size_t k = 1; k < layers.size(); ++k) {
      EXPECT_GT(row["layer_snr_db." + layers[k]].get<double>(), row["snr_db." + layers[k]].get<double>()) << layers[k];
    }
  }
}

TEST(SweepRunner, LayerTop1QuantizesOneLayerAloneAndAllButOne) {
  // one: only classifier.1 has 2-bit weights, so "it alone" is the whole hardware and "all but
  // it" is the float model. int4: every layer, each column present.
  const auto rows = run_bundled("examples/fashion_mnist/fmnist_cnn.onnx",
                                "hardware:\n"
                                "  one: {quantization: {instance_qconfig_map: {classifier.1: {module_qconfig: "
                                "{weight_quant: {n_bits: 2}}}}}}\n"
                                "  int4: {quantization: {preset: digital_int4_w_int8_a}}\n"
                                "  float: {analog: {preset: ideal}}\n"
                                "sweep: {product: {hardware: [one, int4, float]}}\n"
                                "metrics: [top1, layer_top1]\n",
                                "sweep_layer_top1");
  ASSERT_EQ(rows.size(), 3u);
  std::map<std::string, ResultRow> by_hardware;
  for (const auto& [id, row] : rows) by_hardware[row["hardware"].get<std::string>()] = row;
  const ResultRow& one = by_hardware.at("one");
  EXPECT_EQ(one["layer_top1.classifier.1"].get<double>(), one["top1"].get<double>());
  EXPECT_EQ(one["all_but_top1.classifier.1"].get<double>(), by_hardware.at("float")["top1"].get<double>());
  EXPECT_EQ(one["float_top1"].get<double>(), by_hardware.at("float")["top1"].get<double>());
  for (const std::string layer : {"features.0", "features.3", "classifier.1", "classifier.3"}) {
    EXPECT_TRUE(by_hardware.at("int4").contains("layer_top1." + layer)) << layer;
    EXPECT_TRUE(by_hardware.at("int4").contains("all_but_top1." + layer)) << layer;
  }
}

// `tessera analyze`: the file's points with layer_top1 and layer_snr; sensitivity.csv holds the
// runs' own values (means over seeds) and the terminal lists layers most sensitive first.
TEST(SweepRunner, AnalyzeWritesEachLayersSensitivityAndRanksTheLayers) {
  const fs::path folder = fresh_folder("analyze");
  fs::create_directories(folder);
  const fs::path file = folder / "analyze.yaml";
  std::ofstream(file) << "model: " TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx\ndata:\n"
                      << test_images_section(64) << "calibration:\n"
                      << test_images_section(64)
                      << "hardware:\n  int4: {quantization: {preset: digital_int4_w_int8_a}}\n"
                         "sweep: {repeats: 2}\n"
                         "metrics: [top5]\n";  // replaced by analyze
  const auto result = run_cli("analyze " + file.string() + " -q -o " + (folder / "out").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(folder / "out" / "sensitivity.png"));
  const std::vector<std::string> csv = lines_of(read_text(folder / "out" / "sensitivity.csv"));
  ASSERT_EQ(csv.front(),
            "hardware,module,position,n_seeds,float_top1,top1,layer_top1,layer_top1_ci95,all_but_top1,"
            "all_but_top1_ci95,drop,layer_snr_db");
  const std::map<std::string, ResultRow> rows = result_set(folder / "out");
  ASSERT_EQ(rows.size(), 2u);
  const std::vector<std::string> layers{"features.0", "features.1", "features.2", "features.3", "features.4",
                                        "features.5", "classifier.1", "classifier.2", "classifier.3"};
  ASSERT_EQ(csv.size(), 1 + layers.size());
  std::vector<std::pair<std::size_t, double>> printed;  // (where in the output, layer_top1)
  for (std::size_t i = 0; i < layers.size(); ++i) {
    double alone = 0.0, float_top1 = 0.0;
    for (const auto& [id, row] : rows) {
      alone += row["layer_top1." + layers[i]].get<double>() / 2;
      float_top1 += row["float_top1"].get<double>() / 2;
    }
    std::istringstream cells(csv[i + 1]);
    std::vector<std::string> cell;
    for (std::string c; std::getline(cells, c, ',');) cell.push_back(c);
    ASSERT_EQ(cell.size(), 12u) << csv[i + 1];
    EXPECT_EQ(cell[1], layers[i]);
    EXPECT_EQ(cell[2], std::to_string(i + 1));
    EXPECT_NEAR(std::stod(cell[6]), alone, 1e-12) << layers[i];
    EXPECT_NEAR(std::stod(cell[10]), float_top1 - alone, 1e-12) << layers[i];
    EXPECT_TRUE(std::isfinite(std::stod(cell[11]))) << layers[i];
    const std::size_t at = result.output.find("\n  " + layers[i] + " ");
    ASSERT_NE(at, std::string::npos) << layers[i] << " not printed:\n" << result.output;
    printed.emplace_back(at, alone);
  }
  // Printed most sensitive (lowest top-1 alone) first.
  std::sort(printed.begin(), printed.end());
  EXPECT_TRUE(std::is_sorted(printed.begin(), printed.end(), [](const auto& a, const auto& b) {
    return a.second < b.second;
  })) << result.output;

  // A file whose hardware converts nothing has no layer to analyze: an error before anything runs.
  const fs::path nothing = folder / "nothing.yaml";
  std::ofstream(nothing) << "model: " TESSERA_SOURCE_DIR "/examples/fashion_mnist/fmnist_cnn.onnx\ndata:\n"
                         << test_images_section(8) << "calibration:\n"
                         << test_images_section(8) << "hardware:\n  none: {quantization: {}}\n";
  const auto refused = run_cli("analyze " + nothing.string() + " -q -o " + (folder / "none").string());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("no hardware of this file converts a module, so there is no layer to analyze"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(fs::exists(folder / "none"));
}

TEST(SweepRunner, FusionIsASweepableSwitchThatChangesTheRunAndItsResult) {
  const auto rows = run_bundled("examples/fashion_mnist/fmnist_cnn.onnx",
                                "hardware:\n"
                                "  int8: {quantization: {preset: digital_int8}}\n"
                                "sweep: {product: {quantization.fuse_activations: [false, true]}}\n"
                                "metrics: [top1, snr]\n",
                                "sweep_fusion");
  ASSERT_EQ(rows.size(), 2u);  // two run ids
  std::map<bool, double> snr;
  for (const auto& [id, row] : rows)
    snr[row["quantization.fuse_activations"].get<std::string>() == "true"] = row["snr_db.features.0"].get<double>();
  // Fused, the first conv's output quantizer moves behind its ReLU: that output carries only
  // the weight quantization error.
  EXPECT_GT(snr[true], snr[false] + 3.0);
}

TEST(SweepRunner, TheBiasCorrectionMethodIsSweptAndChangesTheRunAndItsResult) {
  // The bundled ResNet's BatchNorms give 4 of its 9 layers an analytical correction.
  const auto rows = run_bundled("examples/fashion_mnist_resnet/fmnist_resnet.onnx",
                                "hardware:\n"
                                "  w4: {quantization: {preset: digital_int4_w_int8_a, bias_correction: true}}\n"
                                "sweep: {product: {quantization.bias_correction_method: [empirical, analytical]}}\n"
                                "metrics: [top1, snr]\n",
                                "sweep_bias_correction_method");
  ASSERT_EQ(rows.size(), 2u);  // two run ids
  std::map<std::string, ResultRow> by_method;
  for (const auto& [id, row] : rows) by_method[row["quantization.bias_correction_method"].get<std::string>()] = row;
  // Measured and computed shifts differ (the BatchNorm statistics are not the calibration data's).
  EXPECT_NE(by_method.at("empirical")["snr_db.fc"].get<double>(), by_method.at("analytical")["snr_db.fc"].get<double>());
}

TEST(SweepRunner, LayerSnrOfAFoldedModelIsMeasuredAgainstTheFoldedFloatModel) {
  // Folding removes the BatchNorm nodes: the float reference must be folded too, and matched by
  // value, not by node index (which compared unrelated tensors: -18 to +2 dB for W8A8).
  const auto rows = run_bundled("examples/fashion_mnist_resnet/fmnist_resnet.onnx",
                                "hardware:\n  int8: {quantization: {preset: digital_int8}}\nmetrics: [top1, snr]\n",
                                "sweep_folded_snr", 32);
  ASSERT_EQ(rows.size(), 1u);
  const ResultRow& row = rows.begin()->second;
  int layers = 0;
  for (const auto& [column, value] : row.items()) {
    if (!column.starts_with("snr_db.")) continue;
    ++layers;
    EXPECT_GT(value.get<double>(), 15.0) << column;
  }
  EXPECT_GE(layers, 9);  // every Conv, the Linear and the activations the preset quantizes
}

TEST(SweepRunner, TheIdealPresetReproducesTorchsAccuracy) {
  const std::string source = TESSERA_SOURCE_DIR;
  const auto rows =
      run_in_folder("model: " + source + "/examples/fashion_mnist/fmnist_cnn.onnx\ndata:\n" + test_images_section(500) +
                        "hardware: {ideal: {analog: {preset: ideal}}}\nmetrics: [top1]\n",
                    "sweep_ideal");
  ASSERT_EQ(rows.size(), 1u);

  // torch_predictions.txt: a comment line, "accuracy <a>", then torch's class per test image.
  std::ifstream torch(source + "/examples/fashion_mnist/torch_predictions.txt");
  std::string word;
  std::getline(torch, word);
  double accuracy = 0.0;
  torch >> word >> accuracy;
  std::vector<int> predictions;
  for (int p; predictions.size() < 500 && torch >> p;) predictions.push_back(p);
  const Dataset data = load_dataset({.images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                                     .labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
                                     .limit = 500});
  int correct = 0;
  for (std::size_t k = 0; k < predictions.size(); ++k) correct += predictions[k] == data.labels[k];
  EXPECT_DOUBLE_EQ(rows.begin()->second["top1"].get<double>(), correct / 500.0);
}

}  // namespace
}  // namespace tessera::experiments
