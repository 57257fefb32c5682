// The .npy reader: the dtypes and header versions NumPy writes, the data sets built from .npy
// pairs, and every refusal with its reason. The files are written byte by byte as
// numpy.save lays them out (magic, version, header length, dict header padded to 64 bytes).
#include "tessera/experiments/npy.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "expect_error.hpp"
#include "tessera/experiments/dataset.hpp"

namespace tessera::experiments {
namespace {

using tessera::testing::expect_error;
namespace fs = std::filesystem;

std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data, int version = 1,
                      bool fortran = false) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const std::size_t preamble = version == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(version);
  bytes += '\0';
  const std::size_t length = header.size();
  bytes += static_cast<char>(length & 0xff);
  bytes += static_cast<char>((length >> 8) & 0xff);
  if (version != 1) bytes += std::string(2, '\0');
  return bytes + header + data;
}

template <class T>
std::string raw(std::initializer_list<T> values, bool big_endian = false) {
  std::string bytes;
  for (T value : values) {
    char buffer[sizeof(T)];
    std::memcpy(buffer, &value, sizeof(T));
    if (big_endian) std::reverse(buffer, buffer + sizeof(T));
    bytes.append(buffer, sizeof(T));
  }
  return bytes;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / ("tessera_npy_test_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

TEST(Npy, ReadsFloat32InCOrder) {
  const auto array = read_npy(write_file("f4.npy", npy_bytes("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 0.1f}))));
  EXPECT_EQ(array.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(array.dtype, "<f4");
  ASSERT_EQ(array.values.size(), 6u);
  EXPECT_EQ(array.values[3], 4.0);
  EXPECT_EQ(array.values[5], static_cast<double>(0.1f));  // every float32 exactly
}

TEST(Npy, ReadsBigEndianIntegersBoolsHalvesAndNewerVersions) {
  const auto big = read_npy(write_file("be.npy", npy_bytes(">f8", "(2,)", raw<double>({1.5, -2.25}, true))));
  EXPECT_EQ(big.values, (std::vector<double>{1.5, -2.25}));
  const auto labels = read_npy(write_file("i8.npy", npy_bytes("<i8", "(3,)", raw<std::int64_t>({9, 0, -1}))));
  EXPECT_EQ(labels.values, (std::vector<double>{9, 0, -1}));
  const auto bytes = read_npy(write_file("u1.npy", npy_bytes("|u1", "(2,)", "\xff\x07")));
  EXPECT_EQ(bytes.values, (std::vector<double>{255, 7}));
  const auto flags = read_npy(write_file("b1.npy", npy_bytes("|b1", "(2,)", std::string("\x01\x00", 2))));
  EXPECT_EQ(flags.values, (std::vector<double>{1, 0}));
  // float16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24.
  const auto halves =
      read_npy(write_file("f2.npy", npy_bytes("<f2", "(4,)", raw<std::uint16_t>({0x3c00, 0xc000, 0x7bff, 1}))));
  EXPECT_EQ(halves.values, (std::vector<double>{1.0, -2.0, 65504.0, std::ldexp(1.0, -24)}));
  const auto v2 = read_npy(write_file("v2.npy", npy_bytes("<u2", "(1, 1)", raw<std::uint16_t>({513}), 2)));
  EXPECT_EQ(v2.values, (std::vector<double>{513}));
  const auto scalar = read_npy(write_file("scalar.npy", npy_bytes("<i4", "()", raw<std::int32_t>({-7}))));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values, (std::vector<double>{-7}));
}

TEST(Npy, RefusesWhatItCannotReadWithTheReason) {
  expect_error<std::runtime_error>([] { read_npy("/nonexistent/x.npy"); }, "/nonexistent/x.npy: cannot open the file");
  expect_error<std::runtime_error>([] { read_npy(write_file("short.npy", "\x93NUM")); }, "too short for a .npy file");
  expect_error<std::runtime_error>([] { read_npy(write_file("magic.npy", "PK\x03\x04xxxxxxxxxxxx")); },
                                   "bad magic string");
  expect_error<std::runtime_error>(
      [] {
        read_npy(write_file("fortran.npy", npy_bytes("<f4", "(1, 2)", raw<float>({1, 2}), 1, true)));
      },
      "Fortran-ordered .npy arrays are not supported");
  expect_error<std::runtime_error>(
      [] {
        read_npy(write_file("complex.npy", npy_bytes("<c8", "(1,)", raw<float>({1, 2}))));
      },
      "unsupported .npy dtype '<c8'");
  expect_error<std::runtime_error>(
      [] {
        read_npy(write_file("truncated.npy", npy_bytes("<f4", "(4,)", raw<float>({1, 2, 3}))));
      },
      "the data is shorter than its shape says");
  expect_error<std::runtime_error>(
      [] {
        read_npy(write_file("long.npy", npy_bytes("<f4", "(1,)", raw<float>({1, 2}))));
      },
      "the file holds more data than its shape says");
  expect_error<std::runtime_error>(
      [] { read_npy(write_file("huge.npy", npy_bytes("<f4", "(1000000, 1000000, 1000000)", ""))); },
      "more than 2^34 elements");
  // A header claiming 8 GiB in front of 8 bytes is refused before anything is allocated.
  expect_error<std::runtime_error>(
      [] { read_npy(write_file("claims.npy", npy_bytes("<f8", "(32768, 32768)", raw<double>({1})))); },
      "the data is shorter than its shape says (8589934592 bytes expected, 8 present");
  expect_error<std::runtime_error>([] { read_npy(write_file("shape.npy", npy_bytes("<f4", "(2, x)", ""))); },
                                   "malformed .npy shape");
  expect_error<std::runtime_error>(
      [] { read_npy(write_file("version.npy", npy_bytes("<f4", "(1,)", raw<float>({1}), 9))); },
      ".npy format version 9 is not supported");
}

TEST(Npy, PairsBecomeDataSetsAndByteImagesAreScaledFirst) {
  const std::string images =
      write_file("img.npy", npy_bytes("|u1", "(2, 1, 1, 2)", std::string("\x00\xff\x33\x66", 4)));
  const std::string labels = write_file("lab.npy", npy_bytes("<i8", "(2,)", raw<std::int64_t>({3, 1})));
  const Dataset data = load_npy_dataset(images, labels, {0.5f, 0.5f});
  EXPECT_EQ(data.images.shape(), (simulator::Shape{2, 1, 1, 2}));
  EXPECT_FLOAT_EQ(data.images[0], -1.0f);
  EXPECT_FLOAT_EQ(data.images[1], 1.0f);
  EXPECT_EQ(data.labels, (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(load_npy_dataset(images, labels, {}, 1).labels.size(), 1u);

  const std::string three_labels = write_file("lab3.npy", npy_bytes("<i8", "(3,)", raw<std::int64_t>({3, 1, 0})));
  expect_error<std::runtime_error>([&] { load_npy_dataset(images, three_labels, {}); }, "lab3.npy");
  const std::string fractional = write_file("frac.npy", npy_bytes("<f4", "(2,)", raw<float>({1.5f, 0})));
  expect_error<std::runtime_error>([&] { load_npy_dataset(images, fractional, {}); }, "frac.npy");
}

TEST(Npy, ImagesWithNaNOrInfAreRefusedNamingTheSample) {
  const std::string images = write_file(
      "nan_img.npy", npy_bytes("<f4", "(3, 2)", raw<float>({0, 1, 2, 3, std::numeric_limits<float>::quiet_NaN(), 5})));
  const std::string labels = write_file("nan_lab.npy", npy_bytes("<i8", "(3,)", raw<std::int64_t>({0, 1, 2})));
  const DataSource source{DataFormat::npy, images, labels, {}, 0};
  expect_error<std::runtime_error>([&] { load_dataset(source); },
                                   "nan_img.npy: sample 2 holds a NaN or Inf value (at 0 within the sample)");
  // The first two samples are clean: a limit that stops before the bad one loads.
  DataSource first_two = source;
  first_two.limit = 2;
  EXPECT_EQ(load_dataset(first_two).labels.size(), 2u);
}

}  // namespace
}  // namespace tessera::experiments
