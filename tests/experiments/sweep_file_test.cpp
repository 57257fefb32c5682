// Sweep files: how grids expand into points (order, columns, hardware), how a point's values
// are applied to its hardware, and the duration syntax of t_inference.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tessera/experiments/sweep_runner.hpp"
#include "tessera/experiments/sweep_spec.hpp"
#include "tessera/parameters/config_error.hpp"

namespace tessera::experiments {
namespace {

namespace fs = std::filesystem;

const fs::path kTinySweep = fs::path(TESSERA_TEST_DATA_DIR) / "sweeps" / "tiny.yaml";

// What a point sets, as "path=value" joined by spaces, for compact expectations.
std::string describe(const SweepPoint& point) {
  std::string text;
  for (const SweepValue& value : point.values) text += (text.empty() ? "" : " ") + value.path + "=" + value.text;
  return text;
}

// A sweep file with the bundled model and the test images around `body`, loaded as if it sat
// in tests/data/sweeps.
SweepSpec load_inline(const std::string& body) {
  const std::string text =
      "model: ../../../examples/fashion_mnist/fmnist_cnn.onnx\n"
      "data:\n"
      "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
      "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n" +
      body;
  return load_sweep_string(text, fs::path(TESSERA_TEST_DATA_DIR) / "sweeps" / "inline.yaml");
}

TEST(SweepFile, TheTinySweepExpandsProductsFirstAxisSlowest) {
  const SweepSpec spec = load_sweep_file(kTinySweep);
  ASSERT_EQ(spec.points.size(), 5u);
  EXPECT_EQ(describe(spec.points[0]), "hardware=pcm t_inference=0 analog.forward.out_res=62");
  EXPECT_EQ(describe(spec.points[1]), "hardware=pcm t_inference=0 analog.forward.out_res=254");
  EXPECT_EQ(describe(spec.points[2]), "hardware=pcm t_inference=86400 analog.forward.out_res=62");
  EXPECT_EQ(describe(spec.points[3]), "hardware=pcm t_inference=86400 analog.forward.out_res=254");
  EXPECT_EQ(describe(spec.points[4]), "hardware=int8");
  EXPECT_EQ(spec.points[4].hardware, "int8");
  EXPECT_EQ(spec.columns, (std::vector<std::string>{"hardware", "t_inference", "analog.forward.out_res"}));
  EXPECT_EQ(spec.seeds, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(spec.metrics, (std::vector<std::string>{"top1", "top3", "loss", "snr"}));
  EXPECT_EQ(spec.data.limit, 64);
  EXPECT_EQ(spec.batch_size, 32);
  ASSERT_TRUE(spec.calibration.has_value());
  EXPECT_EQ(spec.output_directory, "tiny_results");
  // Paths in the file are taken from the file's folder.
  EXPECT_TRUE(fs::exists(spec.model)) << spec.model;
  EXPECT_EQ(spec.model.filename(), "fmnist_cnn.onnx");
}

TEST(SweepFile, PointsThatSeveralGridsGiveRunOnce) {
  const SweepSpec spec = load_inline(
      "hardware:\n  pcm: {analog: {preset: pcm_inference}}\n"
      "sweep:\n  grids:\n"
      "    - product: {t_inference: [0, 1h]}\n"
      "    - product: {t_inference: [3600, 1d]}\n");  // 3600 s is the first grid's 1h
  ASSERT_EQ(spec.points.size(), 3u);
  EXPECT_EQ(spec.merged_points, 1u);
  EXPECT_EQ(describe(spec.points[0]), "t_inference=0");
  EXPECT_EQ(describe(spec.points[1]), "t_inference=3600");
  EXPECT_EQ(describe(spec.points[2]), "t_inference=86400");
}

TEST(SweepFile, ValuesKnowWhereTheyWereWritten) {
  const SweepSpec spec = load_sweep_file(kTinySweep);
  const SweepValue& out_res = spec.points[1].values[2];
  EXPECT_EQ(out_res.key_path, "sweep.grids[0].product.analog.forward.out_res[1]");
  EXPECT_EQ(out_res.line, 24);
  EXPECT_GT(out_res.column, 1);
}

TEST(SweepFile, ResolvingAPointAppliesItsValuesToItsHardware) {
  const SweepSpec spec = load_sweep_file(kTinySweep);
  const ResolvedPoint point = resolve_point(spec, spec.points[3]);
  ASSERT_TRUE(point.hardware.analog.has_value());
  EXPECT_FALSE(point.hardware.quantization.has_value());
  EXPECT_DOUBLE_EQ(point.hardware.analog->rpu_config.forward.out_res, 254.0);
  EXPECT_DOUBLE_EQ(point.t_inference, 86400.0);
  // The spec's own hardware is left as the file describes it.
  EXPECT_NE(spec.hardware_named("pcm").analog->rpu_config.forward.out_res, 254.0);

  const ResolvedPoint digital = resolve_point(spec, spec.points[4]);
  EXPECT_TRUE(digital.hardware.quantization.has_value());
  EXPECT_FALSE(digital.hardware.analog.has_value());
  EXPECT_DOUBLE_EQ(digital.t_inference, 0.0);
}

TEST(SweepFile, QuantizationPassesAreSweepableSwitches) {
  const SweepSpec spec = load_inline(
      "calibration:\n"
      "  images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\n"
      "  labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\n"
      "hardware:\n  int8: {quantization: {preset: digital_int8, fuse_activations: true}}\n"
      "sweep:\n  product:\n"
      "    quantization.fold_batch_norms: [false]\n"
      "    quantization.cross_layer_equalization: [true]\n"
      "    quantization.adaround: [true]\n"
      "    quantization.adaround_iterations: [500]\n"
      "    quantization.bias_correction: [false, true]\n");
  ASSERT_EQ(spec.points.size(), 2u);
  const QuantizationHardware& file = *spec.hardware_named("int8").quantization;
  EXPECT_TRUE(file.fold_batch_norms && file.fuse_activations);
  EXPECT_FALSE(file.cross_layer_equalization || file.bias_correction || file.adaround);
  EXPECT_EQ(file.adaround_iterations, 10000);
  for (std::size_t p = 0; p < 2; ++p) {
    const ResolvedPoint point = resolve_point(spec, spec.points[p]);
    const QuantizationHardware& q = *point.hardware.quantization;
    EXPECT_FALSE(q.fold_batch_norms);
    EXPECT_TRUE(q.cross_layer_equalization);
    EXPECT_TRUE(q.fuse_activations);
    EXPECT_TRUE(q.adaround);
    EXPECT_EQ(q.adaround_iterations, 500);
    EXPECT_EQ(q.bias_correction, p == 1);
  }
}

TEST(SweepFile, ATechniquesListSaysWhichPassesRun) {
  const SweepSpec spec = load_inline(
      "calibration:\n"
      "  images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\n"
      "  labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\n"
      "hardware:\n  int8: {quantization: {preset: digital_int8, techniques: [adaround, fuse],\n"
      "                      bias_correction_method: analytical}}\n"
      "sweep:\n  product:\n"
      "    quantization.techniques: [[fold_bn, cle, bias_correction], [], fold_bn+fuse_activations]\n");
  // In the file: exactly the listed passes, folding included (on by default) switched off.
  const QuantizationHardware& file = *spec.hardware_named("int8").quantization;
  EXPECT_TRUE(file.adaround && file.fuse_activations);
  EXPECT_FALSE(file.fold_batch_norms || file.cross_layer_equalization || file.bias_correction);
  EXPECT_EQ(file.bias_correction_method, "analytical");  // not a pass: the list leaves it

  ASSERT_EQ(spec.points.size(), 3u);
  EXPECT_EQ(spec.points[0].value_of("quantization.techniques"), "fold_bn+cle+bias_correction");
  EXPECT_EQ(spec.points[1].value_of("quantization.techniques"), "none");
  const QuantizationHardware first = *resolve_point(spec, spec.points[0]).hardware.quantization;
  EXPECT_TRUE(first.fold_batch_norms && first.cross_layer_equalization && first.bias_correction);
  EXPECT_FALSE(first.fuse_activations || first.adaround);
  const QuantizationHardware none = *resolve_point(spec, spec.points[1]).hardware.quantization;
  EXPECT_FALSE(none.fold_batch_norms || none.cross_layer_equalization || none.fuse_activations || none.adaround ||
               none.bias_correction);
  const QuantizationHardware pass_keys = *resolve_point(spec, spec.points[2]).hardware.quantization;
  EXPECT_TRUE(pass_keys.fold_batch_norms && pass_keys.fuse_activations);
  EXPECT_FALSE(pass_keys.cross_layer_equalization || pass_keys.adaround || pass_keys.bias_correction);
  // The passes decide the run id, not how they were written: a list and the same switches
  // share their results.
  const SweepSpec switches = load_inline(
      "calibration:\n"
      "  images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\n"
      "  labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\n"
      "hardware:\n  int8: {quantization: {preset: digital_int8, fuse_activations: true}}\n");
  EXPECT_EQ(run_id(spec, resolve_point(spec, spec.points[2]), 1, "m"),
            run_id(switches, resolve_point(switches, switches.points[0]), 1, "m"));
  EXPECT_NE(run_id(spec, resolve_point(spec, spec.points[0]), 1, "m"),
            run_id(spec, resolve_point(spec, spec.points[1]), 1, "m"));
}

TEST(SweepFile, ZippedAxesAdvanceTogetherInsideTheProduct) {
  const SweepSpec spec = load_inline(
      "hardware:\n"
      "  a: {analog: {preset: ideal}}\n"
      "sweep:\n"
      "  seeds: [7, 3]\n"
      "  product: {t_inference: [1s, 2min]}\n"
      "  zip:\n"
      "    analog.forward.inp_res: [62, 126, 254]\n"
      "    analog.forward.out_res: [254, 510, 1022]\n");
  ASSERT_EQ(spec.points.size(), 6u);
  EXPECT_EQ(describe(spec.points[0]), "t_inference=1 analog.forward.inp_res=62 analog.forward.out_res=254");
  EXPECT_EQ(describe(spec.points[2]), "t_inference=1 analog.forward.inp_res=254 analog.forward.out_res=1022");
  EXPECT_EQ(describe(spec.points[4]), "t_inference=120 analog.forward.inp_res=126 analog.forward.out_res=510");
  // A grid that does not set hardware runs on every entry; the one entry here is "a".
  for (const SweepPoint& point : spec.points) EXPECT_EQ(point.hardware, "a");
  EXPECT_EQ(spec.seeds, (std::vector<std::uint64_t>{7, 3}));
  EXPECT_EQ(spec.columns,
            (std::vector<std::string>{"hardware", "t_inference", "analog.forward.inp_res", "analog.forward.out_res"}));
}

TEST(SweepFile, AGridWithoutHardwareRunsEveryHardwareInFileOrder) {
  const SweepSpec spec = load_inline(
      "hardware:\n"
      "  second: {analog: {preset: ideal}}\n"
      "  first: {analog: {preset: pcm_inference}}\n"
      "sweep:\n"
      "  product: {t_inference: [0, 1h]}\n");
  ASSERT_EQ(spec.points.size(), 4u);
  EXPECT_EQ(spec.points[0].hardware, "second");
  EXPECT_EQ(spec.points[1].hardware, "second");
  EXPECT_EQ(spec.points[2].hardware, "first");
  EXPECT_EQ(spec.points[3].value_of("t_inference"), "3600");
  EXPECT_EQ(spec.seeds, (std::vector<std::uint64_t>{0}));
}

TEST(SweepFile, TheDocumentedExampleIsAValidSweep) {
  // The YAML block under "## Writing a sweep" in docs/sweeps.md, read as if it sat next to the
  // bundled model, must load and pass every check `tessera validate` makes (the Python suite
  // validates every sweep block of the README and docs/ through the command as well).
  std::ifstream in(TESSERA_SOURCE_DIR "/docs/sweeps.md");
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t section = page.find("## Writing a sweep");
  ASSERT_NE(section, std::string::npos);
  const std::string fence = "```yaml sweep\n";
  const std::size_t start = page.find(fence, section);
  ASSERT_NE(start, std::string::npos);
  const std::size_t end = page.find("```", start + fence.size());
  const std::string text = page.substr(start + fence.size(), end - start - fence.size());
  const SweepSpec spec =
      load_sweep_string(text, fs::path(TESSERA_SOURCE_DIR) / "examples" / "fashion_mnist" / "documented.yaml");
  EXPECT_NO_THROW(check_sweep_inputs(spec));
  EXPECT_EQ(spec.points.size(), 18u);  // 3 ADC settings x 5 times on PCM, 3 weight widths on int8
  EXPECT_EQ(spec.seeds.size(), 3u);
}

TEST(SweepFile, DurationsAcceptSecondsAndUnits) {
  const std::vector<std::pair<std::string, double>> cases{
      {"0", 0.0},       {"12.5", 12.5},    {"3s", 3.0},        {"2min", 120.0}, {"1h", 3600.0},  {"1 d", 86400.0},
      {"30d", 2592000}, {"2w", 1209600.0}, {"1y", 31536000.0}, {"1e3", 1000.0}, {"0.5h", 1800.0}};
  for (const auto& [text, expected] : cases) {
    double seconds = -1.0;
    EXPECT_TRUE(parse_duration(text, seconds)) << text;
    EXPECT_DOUBLE_EQ(seconds, expected) << text;
  }
  for (const std::string text : {"", "h", "1 month", "1hour", "nan", "inf", "1 d x", "--1"}) {
    double seconds = 0.0;
    EXPECT_FALSE(parse_duration(text, seconds)) << "'" << text << "'";
  }
}

TEST(SweepFile, ASweepOfAbsurdSizeIsRefusedBeforeExpanding) {
  // 10^3 x 10^3 x 10^3 points would be 10^9 runs: refused by counting, not by allocating.
  std::string axis = "[";
  for (int i = 0; i < 1000; ++i) axis += (i ? ", " : "") + std::to_string(i + 1);
  axis += "]";
  const std::string body = "hardware:\n  a: {analog: {preset: ideal}}\nsweep:\n  product:\n    t_inference: " + axis +
                           "\n    analog.forward.out_res: " + axis + "\n    analog.forward.inp_res: " + axis + "\n";
  try {
    load_inline(body);
    FAIL() << "a 10^9-run sweep was accepted";
  } catch (const parameters::ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("the grids so far describe 1000000000 points x 1 seeds = 1000000000 runs; "
                        "at most 1000000 are allowed"),
              std::string::npos)
        << error.what();
  }
}

// `device: cuda` is checked with the inputs: without a device, validation stops at the key with
// the reason; with one, the runs get their own ids (CPU and GPU rows are not mixed on resume).
TEST(SweepFile, DeviceCudaIsCheckedWithTheInputs) {
  const SweepSpec spec = load_inline("hardware: {pcm: {analog: {preset: pcm_inference}}}\ndevice: cuda\n");
  EXPECT_EQ(spec.device, simulator::Backend::cuda);
  const auto& probe = simulator::cuda::availability();
  if (probe.available) {
    check_sweep_inputs(spec);
    const SweepSpec on_cpu = load_inline("hardware: {pcm: {analog: {preset: pcm_inference}}}\n");
    EXPECT_NE(list_runs(spec).front().id, list_runs(on_cpu).front().id);
    return;
  }
  try {
    check_sweep_inputs(spec);
    FAIL() << "device: cuda passed validation without a device";
  } catch (const parameters::ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("inline.yaml:6:9: device: cuda: the CUDA backend is not available: " + probe.reason),
              std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace tessera::experiments
