// A weight matrix larger than one crossbar, spread over a grid of AnalogTiles: the input is
// split into blocks of at most mapping.max_input_size columns and the output into blocks of at
// most mapping.max_output_size rows (aihwkit's TileModuleArray: n = ceil(size / max) blocks
// of balanced sizes, the first size % n one larger). Every tile runs its own periphery (NM,
// DAC, ADC, noise, drift compensation); the partial sums of the tiles of one output block are
// added digitally, then the digital bias once.
//   AnalogTileArray layer(1024, 784, config, seed, "classifier.0");  // 2 x 2 tiles at 512
//   layer.set_weights(w);  Tensor y = layer.forward(x);
// Threads: calls are serialised, as a tile's are (simulator/call_lock.hpp).
// Each tile draws its noise from its own stream, named "<name>[r,c]" (just "<name>" when the
// array is one tile, which then behaves bit for bit like a lone AnalogTile of that name).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tiles/analog_tile.hpp"

namespace tessera::tiles {

/// One block of a split dimension: [start, start + size).
struct Block {
  std::int64_t start = 0;
  std::int64_t size = 0;
};

/// aihwkit's split of `size` into ceil(size / max_block) balanced blocks (max_block <= 0: one).
std::vector<Block> split_into_blocks(std::int64_t size, std::int64_t max_block);

class AnalogTileArray {
 public:
  /// Throws std::invalid_argument for bad sizes or unsupported config settings.
  AnalogTileArray(std::int64_t out_size, std::int64_t in_size, const parameters::InferenceRPUConfig& config,
                  std::uint64_t seed = 0, std::string_view name = "tile");

  std::int64_t out_size() const { return out_size_; }
  std::int64_t in_size() const { return in_size_; }
  const std::string& name() const { return name_; }
  const std::vector<Block>& output_blocks() const { return output_blocks_; }
  const std::vector<Block>& input_blocks() const { return input_blocks_; }
  std::size_t tile_count() const { return tiles_.size(); }
  /// The tile of output block r and input block c.
  AnalogTile& tile(std::size_t r, std::size_t c) { return tiles_[r * input_blocks_.size() + c]; }
  const AnalogTile& tile(std::size_t r, std::size_t c) const { return tiles_[r * input_blocks_.size() + c]; }

  /// The layer's weights [out_size, in_size], cut into the tiles' blocks.
  void set_weights(const Tensor& weights);
  /// The layer's weights as the tiles represent them (mapping scales applied), reassembled.
  Tensor logical_weights() const;
  /// Digital bias (out_size values, empty = none). Only digital bias is simulated: a config
  /// with mapping.digital_bias = false is refused here.
  void set_bias(std::span<const float> bias);
  const std::vector<float>& bias() const { return bias_; }

  /// [batch, in_size] -> [batch, out_size].
  Tensor forward(const Tensor& input);
  /// Input gradient of the last forward (AnalogTile::backward per tile, summed over blocks).
  Tensor backward(const Tensor& grad_output) const;
  /// Gradient with respect to the tiles' weights, assembled to [out_size, in_size].
  Tensor weight_gradient(const Tensor& input, const Tensor& grad_output) const;

  void program();
  void drift(double t_inference);
  void set_training(bool training);
  /// Every tile computes on this backend (see AnalogTile::set_backend).
  void set_backend(simulator::Backend backend);
  void post_update_step();
  void set_sample_counter(std::uint64_t next_sample);

 private:
  std::int64_t out_size_;
  std::int64_t in_size_;
  std::string name_;
  bool digital_bias_;
  std::vector<Block> output_blocks_;
  std::vector<Block> input_blocks_;
  std::vector<AnalogTile> tiles_;  // row-major over (output block, input block)
  std::vector<float> bias_;
  simulator::CallLock lock_;  ///< serialises calls from several threads (each tile has its own too)
};

}  // namespace tessera::tiles
