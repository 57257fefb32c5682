// The implementations behind make_tile_backend (tile_backend.hpp).
#pragma once

#include <memory>

#include "tessera/simulator/tile_backend.hpp"

namespace tessera::simulator {

std::unique_ptr<TileBackend> make_cpu_tile_backend(TileSpec spec);
/// Throws std::runtime_error naming `who` and the reason when no CUDA device is usable.
std::unique_ptr<TileBackend> make_cuda_tile_backend(TileSpec spec, std::string_view who);

}  // namespace tessera::simulator
