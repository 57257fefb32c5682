// The graph a model runs: ONNX nodes with their attributes, in topological order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "tessera/nn/value.hpp"

namespace tessera::nn {

using Attribute = std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>, std::vector<float>, Value,
                               std::vector<std::string>>;

class Attributes {
 public:
  void set(const std::string& name, Attribute value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::int64_t get_int(const std::string& name, std::int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<std::int64_t> get_ints(const std::string& name, const std::vector<std::int64_t>& fallback = {}) const;
  std::vector<float> get_floats(const std::string& name) const;
  std::vector<std::string> get_strings(const std::string& name, const std::vector<std::string>& fallback = {}) const;
  const Value& get_tensor(const std::string& name) const;
  const std::map<std::string, Attribute>& all() const { return values_; }

 private:
  const Attribute& at(const std::string& name) const;
  std::map<std::string, Attribute> values_;
};

struct Node {
  std::string name;                  ///< ONNX node name (may be empty in the file; then generated)
  std::string op_type;               ///< e.g. "Conv"
  std::vector<std::string> inputs;   ///< value names; "" for an omitted optional input
  std::vector<std::string> outputs;  ///< value names
  Attributes attributes;
  std::string module;  ///< dotted module name (state-dict style), e.g. "features.0"
  int call = 0;        ///< which call of its module this node belongs to (a module used twice: 0, 1)

  /// "node 'Conv_0' (Conv)" for messages.
  std::string describe() const { return "node '" + name + "' (" + op_type + ")"; }
};

}  // namespace tessera::nn
