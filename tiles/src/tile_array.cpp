#include "tessera/tiles/tile_array.hpp"

#include <cmath>
#include <stdexcept>

#include "batch_shape_check.hpp"

namespace tessera::tiles {
namespace {

/// Columns [block.start, block.start + block.size) of a [rows, columns] tensor.
Tensor columns_of(const Tensor& matrix, Block block) {
  const std::int64_t rows = matrix.dim(0);
  const std::int64_t columns = matrix.dim(1);
  Tensor part({rows, block.size});
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* source = matrix.data() + r * columns + block.start;
    std::copy(source, source + block.size, part.data() + r * block.size);
  }
  return part;
}

/// matrix[:, block] += part.
void add_columns(Tensor& matrix, Block block, const Tensor& part) {
  const std::int64_t rows = matrix.dim(0);
  const std::int64_t columns = matrix.dim(1);
  for (std::int64_t r = 0; r < rows; ++r) {
    float* target = matrix.data() + r * columns + block.start;
    const float* source = part.data() + r * block.size;
    for (std::int64_t k = 0; k < block.size; ++k) target[k] += source[k];
  }
}

/// matrix[rows block, columns block] = part.
void place_block(Tensor& matrix, Block rows, Block columns, const Tensor& part) {
  const std::int64_t width = matrix.dim(1);
  for (std::int64_t r = 0; r < rows.size; ++r) {
    const float* source = part.data() + r * columns.size;
    std::copy(source, source + columns.size, matrix.data() + (rows.start + r) * width + columns.start);
  }
}

Tensor block_of(const Tensor& matrix, Block rows, Block columns) {
  const std::int64_t width = matrix.dim(1);
  Tensor part({rows.size, columns.size});
  for (std::int64_t r = 0; r < rows.size; ++r) {
    const float* source = matrix.data() + (rows.start + r) * width + columns.start;
    std::copy(source, source + columns.size, part.data() + r * columns.size);
  }
  return part;
}

}  // namespace

std::vector<Block> split_into_blocks(std::int64_t size, std::int64_t max_block) {
  const std::int64_t count = max_block > 0 ? (size + max_block - 1) / max_block : 1;
  std::vector<Block> blocks;
  std::int64_t start = 0;
  for (std::int64_t b = 0; b < count; ++b) {
    const std::int64_t block_size = size / count + (b < size % count ? 1 : 0);
    blocks.push_back({start, block_size});
    start += block_size;
  }
  return blocks;
}

AnalogTileArray::AnalogTileArray(std::int64_t out_size, std::int64_t in_size,
                                 const parameters::InferenceRPUConfig& config, std::uint64_t seed,
                                 std::string_view name)
    : out_size_(out_size), in_size_(in_size), name_(name), digital_bias_(config.mapping.digital_bias) {
  if (out_size < 1 || in_size < 1) {
    throw std::invalid_argument("tile array '" + name_ + "': sizes must be >= 1, got " + std::to_string(out_size) +
                                " x " + std::to_string(in_size));
  }
  AnalogTile::check_size(out_size, in_size, name_);  // refuses absurd sizes before any tile exists
  output_blocks_ = split_into_blocks(out_size, config.mapping.max_output_size);
  input_blocks_ = split_into_blocks(in_size, config.mapping.max_input_size);
  const bool single = output_blocks_.size() == 1 && input_blocks_.size() == 1;
  tiles_.reserve(output_blocks_.size() * input_blocks_.size());
  for (std::size_t r = 0; r < output_blocks_.size(); ++r) {
    for (std::size_t c = 0; c < input_blocks_.size(); ++c) {
      const std::string tile_name = single ? name_ : name_ + "[" + std::to_string(r) + "," + std::to_string(c) + "]";
      tiles_.emplace_back(output_blocks_[r].size, input_blocks_[c].size, config, seed, tile_name);
    }
  }
}

void AnalogTileArray::set_weights(const Tensor& weights) {
  const auto held = lock_.hold();
  if (weights.shape() != simulator::Shape{out_size_, in_size_}) {
    throw std::invalid_argument("tile array '" + name_ + "' expects weights of shape " +
                                simulator::shape_to_string({out_size_, in_size_}) + ", got " +
                                simulator::shape_to_string(weights.shape()));
  }
  for (std::size_t r = 0; r < output_blocks_.size(); ++r) {
    for (std::size_t c = 0; c < input_blocks_.size(); ++c) {
      tile(r, c).set_weights(block_of(weights, output_blocks_[r], input_blocks_[c]));
    }
  }
}

Tensor AnalogTileArray::logical_weights() const {
  const auto held = lock_.hold();
  Tensor weights({out_size_, in_size_});
  for (std::size_t r = 0; r < output_blocks_.size(); ++r) {
    for (std::size_t c = 0; c < input_blocks_.size(); ++c) {
      place_block(weights, output_blocks_[r], input_blocks_[c], tile(r, c).logical_weights());
    }
  }
  return weights;
}

void AnalogTileArray::set_bias(std::span<const float> bias) {
  const auto held = lock_.hold();
  if (!digital_bias_ && !bias.empty()) {
    throw std::invalid_argument("tile array '" + name_ +
                                "': mapping.digital_bias = false (bias as an analog column) is not simulated yet");
  }
  if (!bias.empty() && static_cast<std::int64_t>(bias.size()) != out_size_) {
    throw std::invalid_argument("tile array '" + name_ + "' expects " + std::to_string(out_size_) +
                                " bias values, got " + std::to_string(bias.size()));
  }
  for (std::size_t k = 0; k < bias.size(); ++k) {
    if (!std::isfinite(bias[k])) {
      throw std::invalid_argument("tile array '" + name_ + "': bias [" + std::to_string(k) + "] is " +
                                  std::to_string(bias[k]) + " (the bias must be finite)");
    }
  }
  bias_.assign(bias.begin(), bias.end());
}

Tensor AnalogTileArray::forward(const Tensor& input) {
  const auto held = lock_.hold();
  check_batch_shape("tile array '" + name_ + "'", "input", input, in_size_);
  const std::int64_t batch = input.dim(0);
  Tensor output({batch, out_size_});
  for (std::size_t c = 0; c < input_blocks_.size(); ++c) {
    const Tensor part = input_blocks_.size() == 1 ? input : columns_of(input, input_blocks_[c]);
    for (std::size_t r = 0; r < output_blocks_.size(); ++r)
      add_columns(output, output_blocks_[r], tile(r, c).forward(part));
  }
  for (std::int64_t b = 0; b < batch && !bias_.empty(); ++b) {
    for (std::int64_t i = 0; i < out_size_; ++i) output[b * out_size_ + i] += bias_[static_cast<std::size_t>(i)];
  }
  return output;
}

Tensor AnalogTileArray::backward(const Tensor& grad_output) const {
  const auto held = lock_.hold();
  check_batch_shape("tile array '" + name_ + "'", "grad_output", grad_output, out_size_);
  Tensor grad_input({grad_output.dim(0), in_size_});
  for (std::size_t r = 0; r < output_blocks_.size(); ++r) {
    const Tensor part = columns_of(grad_output, output_blocks_[r]);
    for (std::size_t c = 0; c < input_blocks_.size(); ++c)
      add_columns(grad_input, input_blocks_[c], tile(r, c).backward(part));
  }
  return grad_input;
}

Tensor AnalogTileArray::weight_gradient(const Tensor& input, const Tensor& grad_output) const {
  const auto held = lock_.hold();
  check_batch_shape("tile array '" + name_ + "'", "input", input, in_size_);
  check_batch_shape("tile array '" + name_ + "'", "grad_output", grad_output, out_size_);
  Tensor gradient({out_size_, in_size_});
  std::vector<Tensor> input_parts;  // sliced once, used by every output block
  for (const Block& block : input_blocks_) input_parts.push_back(columns_of(input, block));
  for (std::size_t r = 0; r < output_blocks_.size(); ++r) {
    const Tensor grad_part = columns_of(grad_output, output_blocks_[r]);
    for (std::size_t c = 0; c < input_blocks_.size(); ++c) {
      place_block(gradient, output_blocks_[r], input_blocks_[c], tile(r, c).weight_gradient(input_parts[c], grad_part));
    }
  }
  return gradient;
}

void AnalogTileArray::program() {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.program();
}

void AnalogTileArray::drift(double t_inference) {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.drift(t_inference);
}

void AnalogTileArray::set_backend(simulator::Backend backend) {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.set_backend(backend);
}

void AnalogTileArray::set_training(bool training) {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.set_training(training);
}

void AnalogTileArray::post_update_step() {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.post_update_step();
}

void AnalogTileArray::set_sample_counter(std::uint64_t next_sample) {
  const auto held = lock_.hold();
  for (AnalogTile& t : tiles_) t.set_sample_counter(next_sample);
}

}  // namespace tessera::tiles
