// QuantizeDequantize is bit-identical to torch.fake_quantize_per_{tensor,channel}_affine on
// float32, given the same scale and zero point. The reference vectors come from
// scripts/make_torch_reference.py (torch 1.13) and include ties, near-ties, grid edges and
// values far outside the range.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reference/bit_patterns.hpp"
#include "tessera/simulator/affine_quantizer.hpp"

namespace tessera::simulator {
namespace {

struct ReferenceCase {
  std::string name;
  std::string kind;  // "tensor" or "channel"
  int axis = -1;
  std::int64_t qmin = 0;
  std::int64_t qmax = 0;
  Shape shape;
  std::vector<float> scales;
  std::vector<std::int64_t> zero_points;
  std::vector<float> input;
  std::vector<float> output;
};

using reference::read_bit_patterns;

std::vector<ReferenceCase> load_reference() {
  std::vector<ReferenceCase> cases;
  reference::for_each_tagged_line(
      TESSERA_TEST_DATA_DIR "/torch_fake_quant_reference.txt", [&](const std::string& tag, std::istringstream& line) {
        if (tag == "case") {
          ReferenceCase reference;
          int rank = 0;
          line >> reference.name >> reference.kind >> reference.axis >> reference.qmin >> reference.qmax >> rank;
          reference.shape.resize(static_cast<std::size_t>(rank));
          for (auto& extent : reference.shape) line >> extent;
          cases.push_back(reference);
        } else if (tag == "scales") {
          std::size_t count = 0;
          line >> count;
          cases.back().scales = read_bit_patterns(line, count);
        } else if (tag == "zero_points") {
          std::size_t count = 0;
          line >> count;
          cases.back().zero_points.resize(count);
          for (auto& zero_point : cases.back().zero_points) line >> zero_point;
        } else if (tag == "input") {
          cases.back().input = read_bit_patterns(line, element_count(cases.back().shape));
        } else if (tag == "output") {
          cases.back().output = read_bit_patterns(line, element_count(cases.back().shape));
        }
      });
  return cases;
}

int bitwidth_of(std::int64_t qmin, std::int64_t qmax) {
  int bits = 1;
  while ((std::int64_t{1} << bits) < qmax - qmin + 1) ++bits;
  return bits;
}

TEST(TorchReference, QuantizeDequantizeIsBitIdentical) {
  const std::vector<ReferenceCase> cases = load_reference();
  ASSERT_EQ(cases.size(), 15u) << "reference file missing or truncated";
  std::size_t compared = 0;
  for (const ReferenceCase& reference : cases) {
    SCOPED_TRACE(reference.name);
    ASSERT_EQ(reference.input.size(), static_cast<std::size_t>(element_count(reference.shape)));
    ASSERT_EQ(reference.output.size(), reference.input.size());
    QuantizerOptions options;
    options.bitwidth = bitwidth_of(reference.qmin, reference.qmax);
    options.is_signed = reference.qmin < 0;
    options.shape = reference.kind == "channel" ? per_channel_shape(reference.shape, reference.axis) : Shape{};
    QuantizeDequantize quantizer(options);
    ASSERT_EQ(quantizer.grid().qmin, reference.qmin);
    ASSERT_EQ(quantizer.grid().qmax, reference.qmax);
    quantizer.set_encodings(reference.scales, reference.zero_points);
    const Tensor output = quantizer(Tensor(reference.shape, reference.input));
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < reference.output.size(); ++i) {
      if (std::bit_cast<std::uint32_t>(output[static_cast<std::int64_t>(i)]) !=
          std::bit_cast<std::uint32_t>(reference.output[i])) {
        if (++mismatches <= 5) {
          ADD_FAILURE() << "element " << i << ": x = " << reference.input[i] << ", torch " << reference.output[i]
                        << ", tessera " << output[static_cast<std::int64_t>(i)];
        }
      }
    }
    EXPECT_EQ(mismatches, 0u);
    compared += reference.output.size();
  }
  EXPECT_GT(compared, 14000u);
}

TEST(TorchReference, QuantizeThenDequantizeMatchesToo) {
  for (const ReferenceCase& reference : load_reference()) {
    SCOPED_TRACE(reference.name);
    QuantizerOptions options;
    options.bitwidth = bitwidth_of(reference.qmin, reference.qmax);
    options.is_signed = reference.qmin < 0;
    options.shape = reference.kind == "channel" ? per_channel_shape(reference.shape, reference.axis) : Shape{};
    Quantize quantize(options);
    quantize.set_encodings(reference.scales, reference.zero_points);
    const Tensor levels = quantize(Tensor(reference.shape, reference.input));
    const Tensor output = Dequantize(quantize)(levels);
    for (std::size_t i = 0; i < reference.output.size(); ++i) {
      const auto index = static_cast<std::int64_t>(i);
      ASSERT_EQ(levels[index], std::nearbyint(levels[index])) << "levels are integers";
      ASSERT_EQ(std::bit_cast<std::uint32_t>(output[index]), std::bit_cast<std::uint32_t>(reference.output[i]))
          << "element " << i;
    }
  }
}

}  // namespace
}  // namespace tessera::simulator
