#include "tessera/nn/value.hpp"

#include <cmath>
#include <limits>

namespace tessera::nn {

std::string_view data_type_name(DataType type) {
  switch (type) {
    case DataType::kFloat:
      return "float";
    case DataType::kInt64:
      return "int64";
    case DataType::kBool:
      return "bool";
  }
  return "?";
}

Value Value::ints(const std::vector<std::int64_t>& values, Shape shape) {
  Tensor tensor(std::move(shape));
  for (std::size_t k = 0; k < values.size(); ++k) tensor[static_cast<std::int64_t>(k)] = static_cast<float>(values[k]);
  return {DataType::kInt64, std::move(tensor)};
}

std::int64_t saturating_int(float value) {
  constexpr auto kMax = static_cast<float>(std::numeric_limits<std::int64_t>::max());
  if (std::isnan(value)) return 0;
  if (value >= kMax) return std::numeric_limits<std::int64_t>::max();
  if (value <= -kMax) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(value);
}

std::vector<std::int64_t> Value::to_ints() const {
  std::vector<std::int64_t> values(static_cast<std::size_t>(tensor.size()));
  for (std::size_t k = 0; k < values.size(); ++k) values[k] = saturating_int(tensor[static_cast<std::int64_t>(k)]);
  return values;
}

}  // namespace tessera::nn
