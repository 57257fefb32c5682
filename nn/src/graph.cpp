#include "tessera/nn/graph.hpp"

#include <stdexcept>

namespace tessera::nn {

const Attribute& Attributes::at(const std::string& name) const {
  const auto found = values_.find(name);
  if (found == values_.end()) throw std::invalid_argument("attribute '" + name + "' is missing");
  return found->second;
}

namespace {
template <class T>
const T& as(const Attribute& value, const std::string& name, const char* expected) {
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  throw std::invalid_argument("attribute '" + name + "' should be " + expected);
}
}  // namespace

std::int64_t Attributes::get_int(const std::string& name, std::int64_t fallback) const {
  return has(name) ? as<std::int64_t>(at(name), name, "an integer") : fallback;
}

float Attributes::get_float(const std::string& name, float fallback) const {
  if (!has(name)) return fallback;
  if (const auto* integer = std::get_if<std::int64_t>(&at(name))) return static_cast<float>(*integer);
  return as<float>(at(name), name, "a float");
}

std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  return has(name) ? as<std::string>(at(name), name, "a string") : fallback;
}

std::vector<std::int64_t> Attributes::get_ints(const std::string& name,
                                               const std::vector<std::int64_t>& fallback) const {
  return has(name) ? as<std::vector<std::int64_t>>(at(name), name, "a list of integers") : fallback;
}

std::vector<float> Attributes::get_floats(const std::string& name) const {
  return as<std::vector<float>>(at(name), name, "a list of floats");
}

std::vector<std::string> Attributes::get_strings(const std::string& name,
                                                 const std::vector<std::string>& fallback) const {
  return has(name) ? as<std::vector<std::string>>(at(name), name, "a list of strings") : fallback;
}

const Value& Attributes::get_tensor(const std::string& name) const { return as<Value>(at(name), name, "a tensor"); }

}  // namespace tessera::nn
