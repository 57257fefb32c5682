// Generic YAML <-> config-struct conversion, driven by each struct's visit_fields list.
// Decoding is strict: unknown keys (with a did-you-mean), wrong types and out-of-range values
// raise ConfigError naming the source, line:column and key path. Encoding writes every field,
// so decode(encode(x)) == x. Most code wants config_io.hpp; this header is for code that
// already holds YAML nodes (e.g. sweep files embedding configs).
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/config_error.hpp"
#include "tessera/parameters/enum_names.hpp"
#include "tessera/parameters/field_problem.hpp"

namespace tessera::parameters {

/// A config struct: has a type name and a visit_fields(self, visitor) field list.
template <class T>
concept ConfigStruct = requires {
  T::kTypeName;
};

namespace yaml {

/// Where a value being decoded sits: its source (file name) and dotted key path.
class Location {
 public:
  Location(std::string source, std::string path = {}) : source_(std::move(source)), path_(std::move(path)) {}
  Location child(std::string_view key) const;
  Location element(std::size_t index) const;
  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const;
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const;

 private:
  std::string source_;
  std::string path_;
};

/// "a map", "a list", "'abc'", "the string \"1\"" or "nothing": what was found, for messages.
std::string describe_node(const YAML::Node& node);
/// A quoted scalar ("1", '0.5'): a string, whatever it looks like. Numbers and flags refuse it.
bool is_quoted(const YAML::Node& node);
/// Whether plain scalar text would be read as a number, a flag or null rather than a string.
bool reads_as_non_string(const std::string& text);
using parameters::closest_name;
/// Fails on keys of `map` not in `valid` (suggesting the closest) and on duplicate keys.
void reject_unknown_keys(const YAML::Node& map, const std::vector<std::string>& valid, const Location& where,
                         std::string_view type_name);
void check_range(double value, bool integer, const Check& check, const YAML::Node& node, const Location& where);

// ---- decoding ------------------------------------------------------------------------------
void decode(const YAML::Node& node, bool& value, const Location& where);
void decode(const YAML::Node& node, int& value, const Location& where);
void decode(const YAML::Node& node, double& value, const Location& where);
void decode(const YAML::Node& node, std::string& value, const Location& where);
template <NamedEnum E>
void decode(const YAML::Node& node, E& value, const Location& where);
template <class T>
void decode(const YAML::Node& node, std::vector<T>& value, const Location& where);
template <class K, class V>
void decode(const YAML::Node& node, std::map<K, V>& value, const Location& where);
template <class... Alternatives>
void decode(const YAML::Node& node, std::variant<Alternatives...>& value, const Location& where);
template <ConfigStruct T>
void decode(const YAML::Node& node, T& value, const Location& where);

// ---- encoding ------------------------------------------------------------------------------
inline YAML::Node encode(bool value) { return YAML::Node(value); }
inline YAML::Node encode(int value) { return YAML::Node(value); }
inline YAML::Node encode(double value) { return YAML::Node(value); }
/// Strings carry the quoted tag, so that emit() quotes those that look like numbers.
inline YAML::Node encode(const std::string& value) {
  YAML::Node node(value);
  node.SetTag("!");
  return node;
}
template <NamedEnum E>
YAML::Node encode(E value) {
  return YAML::Node(std::string(enum_name(value)));
}
template <class T>
YAML::Node encode(const std::vector<T>& value);
template <class K, class V>
YAML::Node encode(const std::map<K, V>& value);
template <class... Alternatives>
YAML::Node encode(const std::variant<Alternatives...>& value);
template <ConfigStruct T>
YAML::Node encode(const T& value);

// ---- implementation ------------------------------------------------------------------------

template <class T>
void check_field_range(const T& value, const Check& check, const YAML::Node& node, const Location& where) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    check_range(static_cast<double>(value), std::is_integral_v<T>, check, node, where);
  } else if constexpr (requires {
                         value.size();
                         value[0] + 0.0;
                       }) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      check_range(static_cast<double>(value[i]), false, check, node.IsSequence() ? node[i] : node, where.element(i));
    }
  }
}

/// Visitor that reads each listed field from a YAML map, if present.
class FieldDecoder {
 public:
  FieldDecoder(const YAML::Node& map, const Location& where) : map_(map), where_(where) {}

  template <class Field>
  void operator()(std::string_view name, Field& field, const Check& check = kAnyValue, std::string_view = {}) {
    names_.emplace_back(name);
    const YAML::Node child = map_[std::string(name)];
    if (!child.IsDefined()) return;  // absent keys keep their defaults
    const Location where = where_.child(name);
    decode(child, field, where);
    check_field_range(field, check, child, where);
  }
  std::vector<std::string>& names() { return names_; }

 private:
  const YAML::Node& map_;
  const Location& where_;
  std::vector<std::string> names_;
};

/// Visitor that writes each listed field into a YAML map.
class FieldEncoder {
 public:
  explicit FieldEncoder(YAML::Node& map) : map_(map) {}
  template <class Field>
  void operator()(std::string_view name, const Field& field, const Check& = kAnyValue, std::string_view = {}) {
    map_.force_insert(std::string(name), encode(field));
  }

 private:
  YAML::Node& map_;
};

/// Decodes the fields of `value` from `node`; `extra_keys` are tolerated (the variant's "type").
template <ConfigStruct T>
void decode_fields(const YAML::Node& node, T& value, const Location& where, std::vector<std::string> extra_keys) {
  if (!node.IsNull()) {
    if (!node.IsMap()) {
      where.fail(node, "expected a map of " + std::string(T::kTypeName) + " fields, found " + describe_node(node));
    }
    FieldDecoder decoder(node, where);
    T::visit_fields(value, decoder);
    std::vector<std::string>& valid = decoder.names();
    valid.insert(valid.end(), extra_keys.begin(), extra_keys.end());
    reject_unknown_keys(node, valid, where, T::kTypeName);
  }
  if constexpr (requires { value.consistency_problem(); }) {
    if (auto problem = value.consistency_problem()) {
      const YAML::Node at = node.IsMap() ? node[problem->field] : YAML::Node();
      where.child(problem->field).fail(at.IsDefined() ? at : node, problem->message);
    }
  }
}

template <ConfigStruct T>
void decode(const YAML::Node& node, T& value, const Location& where) {
  decode_fields(node, value, where, {});
}

template <NamedEnum E>
void decode(const YAML::Node& node, E& value, const Location& where) {
  std::vector<std::string> valid;
  for (const auto& entry : EnumNames<E>::kNames) valid.emplace_back(entry.second);
  std::string choices;
  for (const auto& name : valid) choices += (choices.empty() ? "" : ", ") + name;
  if (!node.IsScalar()) where.fail(node, "expected one of " + choices + ", found " + describe_node(node));
  if (auto parsed = enum_from_name<E>(node.Scalar())) {
    value = *parsed;
    return;
  }
  std::string message = "unknown value '" + excerpt(node.Scalar()) + "'";
  if (auto guess = closest_name(node.Scalar(), valid); !guess.empty()) message += "; did you mean '" + guess + "'?";
  where.fail(node, message + " (expected one of " + choices + ")");
}

template <class T>
void decode(const YAML::Node& node, std::vector<T>& value, const Location& where) {
  if (node.IsNull()) {
    value.clear();
    return;
  }
  if (!node.IsSequence()) where.fail(node, "expected a list, found " + describe_node(node));
  std::vector<T> result(node.size());
  for (std::size_t i = 0; i < node.size(); ++i) decode(node[i], result[i], where.element(i));
  value = std::move(result);
}

template <class K, class V>
void decode(const YAML::Node& node, std::map<K, V>& value, const Location& where) {
  if (node.IsNull()) {
    value.clear();
    return;
  }
  if (!node.IsMap()) where.fail(node, "expected a map, found " + describe_node(node));
  std::map<K, V> result;
  for (const auto& entry : node) {
    K key{};
    decode(entry.first, key, where);
    if (result.contains(key)) where.fail(entry.first, "duplicate key '" + excerpt(entry.first.Scalar()) + "'");
    decode(entry.second, result[key], where.child(entry.first.Scalar()));
  }
  value = std::move(result);
}

template <class... Alternatives>
void decode(const YAML::Node& node, std::variant<Alternatives...>& value, const Location& where) {
  using Variant = std::variant<Alternatives...>;
  static const std::vector<std::string> kNames{std::string(Alternatives::kTypeName)...};
  using Factory = Variant (*)();
  static constexpr std::array<Factory, sizeof...(Alternatives)> kFactories{
      +[]() -> Variant { return Variant(std::in_place_type<Alternatives>); }...};

  // Handles are re-pointed with reset(): assigning to a YAML::Node overwrites what it points to.
  YAML::Node type_node;
  bool has_type = true;
  YAML::Node body;  // the fields, when given as a map
  if (node.IsNull()) {
    type_node.reset(YAML::Node("None"));  // `key: null` selects the "None" alternative, if any
  } else if (node.IsMap()) {
    body.reset(node);
    const YAML::Node type_entry = node["type"];  // reset() refuses a missing node
    has_type = type_entry.IsDefined();
    if (has_type) type_node.reset(type_entry);
  } else if (node.IsScalar()) {
    type_node.reset(node);
  } else {
    where.fail(node, "expected a type name or a map with a 'type' key, found " + describe_node(node));
  }
  std::size_t index = value.index();  // a map without 'type' refines the current alternative
  if (has_type) {
    if (!type_node.IsScalar())
      where.child("type").fail(type_node, "expected a type name, found " + describe_node(type_node));
    const std::string& name = type_node.Scalar();
    index = kNames.size();
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (equal_ignoring_case(name, kNames[i])) index = i;
    }
    if (index == kNames.size()) {
      std::string choices;
      for (const auto& candidate : kNames) choices += (choices.empty() ? "" : ", ") + candidate;
      std::string message = "unknown type '" + excerpt(name) + "'";
      if (auto guess = closest_name(name, kNames); !guess.empty()) message += "; did you mean '" + guess + "'?";
      where.child("type").fail(type_node, message + " (expected one of " + choices + ")");
    }
  }
  if (index != value.index()) value = kFactories[index]();
  std::visit([&](auto& alternative) { decode_fields(body, alternative, where, {"type"}); }, value);
}

template <class T>
YAML::Node encode(const std::vector<T>& value) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (const auto& element : value) node.push_back(encode(element));
  return node;
}

template <class K, class V>
YAML::Node encode(const std::map<K, V>& value) {
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& [key, element] : value) node.force_insert(encode(key), encode(element));
  return node;
}

template <ConfigStruct T>
YAML::Node encode(const T& value) {
  YAML::Node node(YAML::NodeType::Map);
  FieldEncoder encoder(node);
  T::visit_fields(value, encoder);
  return node;
}

template <class... Alternatives>
YAML::Node encode(const std::variant<Alternatives...>& value) {
  return std::visit(
      [](const auto& alternative) {
        using Alternative = std::decay_t<decltype(alternative)>;
        YAML::Node node(YAML::NodeType::Map);
        node.force_insert(std::string("type"), std::string(Alternative::kTypeName));
        FieldEncoder encoder(node);
        Alternative::visit_fields(alternative, encoder);
        return node;
      },
      value);
}

/// Parses YAML text; syntax errors become ConfigError with the position.
YAML::Node parse(std::string_view text, const std::string& source);
/// Emits a node as YAML text (block style, or one flow-style line), quoting strings that
/// would otherwise read back as numbers, flags or null.
std::string emit(const YAML::Node& node, bool flow = false);
/// The node at a dotted path ("forward.out_res"); map keys that contain dots
/// ("features.0") are matched greedily. Fails naming the first segment that does not exist.
YAML::Node find_path(const YAML::Node& root, std::string_view dotted_path, const Location& where);
/// Replaces the node at a dotted path with `value` (the last segment may be a new map key).
void replace_path(YAML::Node& root, std::string_view dotted_path, const YAML::Node& value, const Location& where);

}  // namespace yaml
}  // namespace tessera::parameters
