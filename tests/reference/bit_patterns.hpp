// Reads float32 values written as hexadecimal bit patterns by scripts/make_torch_reference.py.
#pragma once

#include <bit>
#include <cstdint>
#include <fstream>
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

/// Calls visit(tag, rest_of_line) for every line "tag values..." of a reference file.
template <class Visit>
void for_each_tagged_line(const std::string& path, Visit visit) {
  std::ifstream file(path);
  std::string text;
  while (std::getline(file, text)) {
    std::istringstream line(text);
    std::string tag;
    line >> tag;
    visit(tag, line);
  }
}

}  // namespace tessera::reference
