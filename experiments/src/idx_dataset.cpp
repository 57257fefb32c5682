#include "tessera/experiments/idx_dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace tessera::experiments {
namespace {

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};

// Reads exactly `size` bytes; false at the end of the data.
bool read_exact(gzFile file, void* buffer, std::size_t size) {
  return gzread(file, buffer, static_cast<unsigned>(size)) == static_cast<int>(size);
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  // gzread reads plain files unchanged, so one path handles both.
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) throw std::runtime_error(path + ": cannot open the file (no such file or no permission)");
  unsigned char magic[4];
  if (!read_exact(file.get(), magic, 4)) throw std::runtime_error(path + ": too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0) throw std::runtime_error(path + ": not an IDX file (bad magic number)");
  if (magic[2] != 0x08) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02X", magic[2]);
    throw std::runtime_error(path + ": IDX element type " + code + " is not supported (unsigned bytes, 0x08, are)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) throw std::runtime_error(path + ": IDX rank " + std::to_string(rank) + " is not 1 to 4");
  IdxArray array;
  std::int64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    unsigned char size[4];
    if (!read_exact(file.get(), size, 4)) throw std::runtime_error(path + ": truncated IDX header");
    const std::int64_t extent = (std::int64_t{size[0]} << 24) | (size[1] << 16) | (size[2] << 8) | size[3];
    array.dims.push_back(extent);
    // Checked before multiplying: four extents of 2^32 - 1 would overflow 64 bits.
    if (extent > 0 && count > (std::int64_t{1} << 32) / extent) {
      throw std::runtime_error(path + ": IDX dimensions describe more than 4 GiB");
    }
    count *= extent;
  }
  // Read in chunks, growing with the data that is really there: a corrupt header must not
  // claim gigabytes the (possibly gzipped) file does not hold.
  constexpr std::int64_t kChunk = 1 << 20;
  while (static_cast<std::int64_t>(array.bytes.size()) < count) {
    const std::size_t have = array.bytes.size();
    const auto want = static_cast<std::size_t>(std::min(kChunk, count - static_cast<std::int64_t>(have)));
    array.bytes.resize(have + want);
    if (!read_exact(file.get(), array.bytes.data() + have, want)) {
      throw std::runtime_error(path + ": the data is shorter than its dimensions say (" + std::to_string(count) +
                               " bytes expected; truncated file?)");
    }
  }
  char extra = 0;
  if (gzread(file.get(), &extra, 1) > 0) {
    throw std::runtime_error(path + ": the file holds more data than its dimensions say");
  }
  return array;
}

Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, Normalization normalization,
                         std::int64_t limit) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (labels.dims.size() != 1) throw std::runtime_error(labels_path + ": labels must be a 1-D IDX array");
  if (images.dims.front() != labels.dims.front()) {
    throw std::runtime_error(images_path + " holds " + std::to_string(images.dims.front()) + " images but " +
                             labels_path + " holds " + std::to_string(labels.dims.front()) + " labels");
  }
  if (!(normalization.std > 0.0f)) throw std::runtime_error("normalization std must be > 0");
  const std::int64_t n = limit > 0 ? std::min(limit, images.dims.front()) : images.dims.front();
  simulator::Shape shape{n};
  if (images.dims.size() == 3) shape.push_back(1);  // one channel
  shape.insert(shape.end(), images.dims.begin() + 1, images.dims.end());
  Dataset data{simulator::Tensor(shape), {}};
  // The same float32 operations as numpy's (x / 255 - mean) / std, so inputs match torch's.
  for (std::int64_t k = 0; k < data.images.size(); ++k) {
    const float x = static_cast<float>(images.bytes[static_cast<std::size_t>(k)]) / 255.0f;
    data.images[k] = (x - normalization.mean) / normalization.std;
  }
  data.labels.assign(labels.bytes.begin(), labels.bytes.begin() + n);
  return data;
}

}  // namespace tessera::experiments
