// Reads float32 values written as hexadecimal bit patterns by scripts/make_torch_reference.py.
#pragma once

#include <bit>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace tessera::reference {

inline std::vector<float> read_bit_patterns(std::istringstream& line, std::size_t count) {
  std::vector<float> values;
  std::string hex;
  while (values.size() < count && line >> hex) {
    values.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16))));
  }
  return values;
}

}  // namespace tessera::reference
