// The IDX reader: the real Fashion-MNIST files, plain and gzipped input, and every refusal.
#include "tessera/experiments/idx_dataset.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "expect_error.hpp"

namespace tessera::experiments {
namespace {

using tessera::testing::expect_error;
namespace fs = std::filesystem;

std::string write_file(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

std::string idx_bytes(unsigned char type, std::vector<std::uint32_t> dims, std::size_t data_size) {
  std::string bytes{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  for (std::size_t k = 0; k < data_size; ++k) bytes.push_back(static_cast<char>(k % 256));
  return bytes;
}

TEST(IdxDataset, ReadsPlainFilesAndNormalises) {
  const std::string images = write_file("tessera_images.idx", idx_bytes(0x08, {2, 2, 3}, 12));
  const std::string labels = write_file("tessera_labels.idx", idx_bytes(0x08, {2}, 2));
  const Dataset data = load_idx_dataset(images, labels, {0.5f, 2.0f});
  EXPECT_EQ(data.images.shape(), (simulator::Shape{2, 1, 2, 3}));
  EXPECT_FLOAT_EQ(data.images[5], (5.0f / 255.0f - 0.5f) / 2.0f);
  EXPECT_EQ(data.labels, (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(load_idx_dataset(images, labels, {}, 1).labels.size(), 1u);
}

TEST(IdxDataset, ReadsTheGzippedFashionMnistTestSet) {
  const std::string root = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(root)) GTEST_SKIP() << "install dataset-fashion-mnist";
  const Dataset data = load_idx_dataset(root + "t10k-images-idx3-ubyte.gz", root + "t10k-labels-idx1-ubyte.gz", {});
  EXPECT_EQ(data.images.shape(), (simulator::Shape{10000, 1, 28, 28}));
  EXPECT_EQ(data.labels.size(), 10000u);
}

TEST(IdxDataset, BadFilesAreRefusedWithTheirName) {
  expect_error<std::runtime_error>([] { read_idx("/nonexistent/images.idx"); },
                                   "/nonexistent/images.idx: cannot open the file");
  const std::string short_header = write_file("tessera_short.idx", std::string(2, '\0'));
  expect_error<std::runtime_error>([&] { read_idx(short_header); }, "tessera_short.idx: too short for an IDX header");
  const std::string bad_magic = write_file("tessera_magic.idx", "PK\x03\x04");
  expect_error<std::runtime_error>([&] { read_idx(bad_magic); }, "not an IDX file (bad magic number)");
  const std::string floats = write_file("tessera_floats.idx", idx_bytes(0x0D, {2}, 8));
  expect_error<std::runtime_error>([&] { read_idx(floats); },
                                   "IDX element type 0x0D is not supported (unsigned bytes, 0x08, are)");
  const std::string truncated = write_file("tessera_truncated.idx", idx_bytes(0x08, {10, 10}, 50));
  expect_error<std::runtime_error>([&] { read_idx(truncated); },
                                   "the data is shorter than its dimensions say (100 bytes expected; truncated file?)");
  const std::string longer = write_file("tessera_longer.idx", idx_bytes(0x08, {4}, 5));
  expect_error<std::runtime_error>([&] { read_idx(longer); }, "the file holds more data than its dimensions say");
  // Found by fuzz_idx: a 23-byte file whose header claims 65536 x 65536 (4 GiB) made the reader
  // allocate it all before reading. Now memory grows only with the data really present.
  const std::string claims_4_gib = write_file("tessera_claims.idx", idx_bytes(0x08, {65536, 65536}, 7));
  expect_error<std::runtime_error>([&] { read_idx(claims_4_gib); },
                                   "the data is shorter than its dimensions say (4294967296 bytes expected");
  // Found by fuzz_idx: three extents of 2^32 - 1 overflowed the element count (UB) before the
  // size check.
  const std::string overflow = write_file("tessera_overflow.idx", idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 2}, 0));
  expect_error<std::runtime_error>([&] { read_idx(overflow); }, "IDX dimensions describe more than 4 GiB");
  const std::string huge = write_file("tessera_huge.idx", idx_bytes(0x08, {100000, 100000}, 0));
  expect_error<std::runtime_error>([&] { read_idx(huge); }, "IDX dimensions describe more than 4 GiB");
}

TEST(IdxDataset, ImagesAndLabelsMustAgree) {
  const std::string images = write_file("tessera_images3.idx", idx_bytes(0x08, {3, 2, 2}, 12));
  const std::string labels = write_file("tessera_labels2.idx", idx_bytes(0x08, {2}, 2));
  expect_error<std::runtime_error>([&] { load_idx_dataset(images, labels, {}); }, "holds 3 images but");
  const std::string matrix_labels = write_file("tessera_labels_2d.idx", idx_bytes(0x08, {3, 1}, 3));
  expect_error<std::runtime_error>([&] { load_idx_dataset(images, matrix_labels, {}); },
                                   "labels must be a 1-D IDX array");
  const std::string labels3 = write_file("tessera_labels3.idx", idx_bytes(0x08, {3}, 3));
  expect_error<std::runtime_error>(
      [&] {
        load_idx_dataset(images, labels3, {0.0f, 0.0f});
      },
      "normalization std must be > 0");
}

}  // namespace
}  // namespace tessera::experiments
