#include "tessera/simulator/block_layout.hpp"

#include <stdexcept>

namespace tessera::simulator {

BlockLayout::BlockLayout(const Shape& data_shape, const Shape& encoding_shape, const Shape& block_size) {
  const std::size_t rank = data_shape.size();
  auto fail = [&](const std::string& reason) {
    throw std::invalid_argument("encoding shape " + shape_to_string(encoding_shape) +
                                (block_size.empty() ? "" : " with block size " + shape_to_string(block_size)) +
                                " does not fit data of shape " + shape_to_string(data_shape) + ": " + reason);
  };
  if (encoding_shape.size() > std::max<std::size_t>(rank, 1)) fail("the encoding has more dimensions than the data");
  if (!block_size.empty() && block_size.size() != rank) fail("block_size needs one entry per data dimension");

  Shape data = data_shape.empty() ? Shape{1} : data_shape;
  Shape encoding(data.size(), 1);
  std::copy(encoding_shape.begin(), encoding_shape.end(),
            encoding.end() - static_cast<std::ptrdiff_t>(encoding_shape.size()));
  Shape blocks(data.size(), 1);
  for (std::size_t axis = 0; axis < data.size(); ++axis) {
    const std::int64_t extent = data[axis];
    const std::int64_t count = encoding[axis];
    if (count < 1) fail("encoding dimensions must be >= 1");
    if (block_size.empty()) {
      if (count != 1 && count != extent)
        fail("dimension " + std::to_string(axis) + " must be 1 or " + std::to_string(extent));
      blocks[axis] = count == 1 ? extent : 1;
    } else {
      std::int64_t block = block_size[axis];
      if (block == -1) {
        if (extent % count != 0)
          fail("dimension " + std::to_string(axis) + " does not split into " + std::to_string(count) + " blocks");
        block = extent / count;
      }
      if (block < 1 || block * count != extent)
        fail("dimension " + std::to_string(axis) + ": encoding count * block size != data size");
      blocks[axis] = block;
    }
    if (extent == 0) blocks[axis] = 1;
  }

  element_count_ = simulator::element_count(data);
  encoding_count_ = simulator::element_count(encoding);
  // Merge a trailing dim covered by a single encoding into its neighbour: the run through both
  // shares one encoding, so the innermost loop gets as long as possible.
  while (data.size() > 1 && encoding.back() == 1) {
    const std::size_t last = data.size() - 1;
    blocks[last - 1] *= data[last];
    data[last - 1] *= data[last];
    data.pop_back();
    encoding.pop_back();
    blocks.pop_back();
  }
  data_dims_ = data;
  block_dims_ = blocks;
  encoding_strides_.assign(encoding.size(), 1);
  for (std::size_t axis = encoding.size() - 1; axis > 0; --axis) {
    encoding_strides_[axis - 1] = encoding_strides_[axis] * encoding[axis];
  }
}

}  // namespace tessera::simulator
