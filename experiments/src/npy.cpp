#include "tessera/experiments/npy.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace tessera::experiments {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::runtime_error(path + ": " + message);
}

// The value of `'key': ` in numpy's header dictionary, up to the next top-level comma.
std::string header_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  const std::size_t at = header.find(quoted);
  if (at == std::string::npos) fail(path, "the .npy header has no '" + key + "' entry");
  std::size_t start = header.find(':', at + quoted.size());
  if (start == std::string::npos) fail(path, "malformed .npy header near '" + key + "'");
  ++start;
  while (start < header.size() && header[start] == ' ') ++start;
  int depth = 0;
  std::size_t end = start;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' || c == '}') && depth == 0) break;
  }
  if (depth != 0 || end == header.size()) fail(path, "malformed .npy header near '" + key + "'");
  return header.substr(start, end - start);
}

std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& path) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') fail(path, "malformed .npy shape " + text);
  std::vector<std::int64_t> shape;
  std::size_t i = 1;
  while (i + 1 < text.size()) {
    while (i + 1 < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i + 1 >= text.size()) break;
    std::int64_t extent = 0;
    const std::size_t begin = i;
    while (i + 1 < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (extent > std::numeric_limits<std::int64_t>::max() / 10 - 9) fail(path, "a .npy dimension is too large");
      extent = extent * 10 + (text[i] - '0');
      ++i;
    }
    if (i == begin) fail(path, "malformed .npy shape " + text);
    shape.push_back(extent);
  }
  return shape;
}

template <class T>
double load_as_double(const unsigned char* bytes, bool swap) {
  unsigned char buffer[sizeof(T)];
  std::memcpy(buffer, bytes, sizeof(T));
  if (swap) {
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(buffer[i], buffer[sizeof(T) - 1 - i]);
  }
  T value;
  std::memcpy(&value, buffer, sizeof(T));
  return static_cast<double>(value);
}

double half_to_double(std::uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -value : value;
}

using Converter = double (*)(const unsigned char*, bool);

Converter converter_for(char kind, int size) {
  switch (kind) {
    case 'b':
      return size == 1 ? &load_as_double<bool> : nullptr;
    case 'u':
      if (size == 1) return &load_as_double<std::uint8_t>;
      if (size == 2) return &load_as_double<std::uint16_t>;
      if (size == 4) return &load_as_double<std::uint32_t>;
      if (size == 8) return &load_as_double<std::uint64_t>;
      return nullptr;
    case 'i':
      if (size == 1) return &load_as_double<std::int8_t>;
      if (size == 2) return &load_as_double<std::int16_t>;
      if (size == 4) return &load_as_double<std::int32_t>;
      if (size == 8) return &load_as_double<std::int64_t>;
      return nullptr;
    case 'f':
      if (size == 2) {
        return +[](const unsigned char* bytes, bool swap) {
          return half_to_double(static_cast<std::uint16_t>(load_as_double<std::uint16_t>(bytes, swap)));
        };
      }
      if (size == 4) return &load_as_double<float>;
      if (size == 8) return &load_as_double<double>;
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file (no such file or no permission)");
  unsigned char preamble[10];
  if (!in.read(reinterpret_cast<char*>(preamble), 8)) fail(path, "too short for a .npy file");
  if (std::memcmp(preamble, "\x93NUMPY", 6) != 0) fail(path, "not a .npy file (bad magic string)");
  const int major = preamble[6];
  if (major < 1 || major > 3) fail(path, ".npy format version " + std::to_string(major) + " is not supported");
  std::uint64_t header_length = 0;
  if (major == 1) {
    if (!in.read(reinterpret_cast<char*>(preamble + 8), 2)) fail(path, "truncated .npy header");
    header_length = preamble[8] | (preamble[9] << 8);
  } else {
    unsigned char length[4];
    if (!in.read(reinterpret_cast<char*>(length), 4)) fail(path, "truncated .npy header");
    header_length = length[0] | (length[1] << 8) | (length[2] << 16) | (std::uint64_t{length[3]} << 24);
  }
  if (header_length > (1u << 20)) fail(path, "the .npy header claims " + std::to_string(header_length) + " bytes");
  std::string header(header_length, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_length))) fail(path, "truncated .npy header");

  NpyArray array;
  std::string descr = header_value(header, "descr", path);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"') || descr.back() != descr.front()) {
    fail(path, "the .npy dtype " + descr + " is not a simple type");
  }
  array.dtype = descr.substr(1, descr.size() - 2);
  if (header_value(header, "fortran_order", path) != "False") {
    fail(path, "Fortran-ordered .npy arrays are not supported (save with np.ascontiguousarray)");
  }
  array.shape = parse_shape(header_value(header, "shape", path), path);

  const std::string& dtype = array.dtype;
  if (dtype.size() < 3) fail(path, "unsupported .npy dtype '" + dtype + "'");
  const char order = dtype[0];
  const char kind = dtype[1];
  int size = 0;
  for (std::size_t i = 2; i < dtype.size(); ++i) {
    if (dtype[i] < '0' || dtype[i] > '9' || size > 64) fail(path, "unsupported .npy dtype '" + dtype + "'");
    size = size * 10 + (dtype[i] - '0');
  }
  const Converter convert = converter_for(kind, size);
  if (convert == nullptr || (order != '<' && order != '>' && order != '|' && order != '=')) {
    fail(path, "unsupported .npy dtype '" + dtype + "' (expected bool, (u)int8-64 or float16/32/64)");
  }
  const bool file_big_endian = order == '>';
  const bool swap = size > 1 && file_big_endian != (std::endian::native == std::endian::big);

  std::uint64_t count = 1;
  for (const std::int64_t extent : array.shape) {
    if (extent != 0 && count > (std::uint64_t{1} << 34) / static_cast<std::uint64_t>(extent)) {
      fail(path, "the .npy shape describes more than 2^34 elements");
    }
    count *= static_cast<std::uint64_t>(extent);
  }
  // Compared with what the file holds before allocating: a header must not claim memory the
  // data does not back (a corrupt 100-byte file asking for 128 GiB).
  const std::uint64_t expected = count * static_cast<std::uint64_t>(size);
  const std::streamoff start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::uint64_t available = static_cast<std::uint64_t>(in.tellg() - start);
  in.seekg(start);
  if (available < expected) {
    fail(path, "the data is shorter than its shape says (" + std::to_string(expected) + " bytes expected, " +
                   std::to_string(available) + " present; truncated file?)");
  }
  std::vector<unsigned char> bytes(expected);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    fail(path, "cannot read the data");
  }
  if (in.peek() != std::char_traits<char>::eof()) fail(path, "the file holds more data than its shape says");
  array.values.resize(count);
  for (std::uint64_t k = 0; k < count; ++k) array.values[k] = convert(bytes.data() + k * size, swap);
  return array;
}

}  // namespace tessera::experiments
