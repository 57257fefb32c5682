// What each config field means, from the documentation string every visit_fields entry carries
// (field("t_read", self.t_read, kPositive, "s, duration of one read (1/f noise)")): Python's
// help() and docs/config_reference.md show it. The unit, where there is one, leads the text.
//   for (const FieldDoc& entry : field_docs(InferenceRPUConfig{})) ...  // "forward.out_res", "ADC bin ..."
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "tessera/parameters/checks.hpp"

namespace tessera::parameters {

struct FieldDoc {
  std::string path;  ///< dotted, as in sweeps and config.set ("forward.out_res")
  std::string doc;
};

namespace detail {

template <class T>
struct IsVariant : std::false_type {};
template <class... A>
struct IsVariant<std::variant<A...>> : std::true_type {};

template <class... A>
std::string variant_choices(const std::variant<A...>*) {
  std::string choices;
  ((choices += (choices.empty() ? "" : ", ") + std::string(A::kTypeName)), ...);
  return choices;
}

/// Visits the fields of one struct, and of the structs and current variant alternatives below.
class FieldDocCollector {
 public:
  FieldDocCollector(std::string prefix, std::vector<FieldDoc>& out) : prefix_(std::move(prefix)), out_(out) {}

  template <class Field>
  void operator()(std::string_view name, const Field& field, const Check& = kAnyValue, std::string_view doc = {}) {
    const std::string path = prefix_ + std::string(name);
    out_.push_back({path, std::string(doc)});
    if constexpr (IsVariant<Field>::value) {
      out_.push_back({path + ".type", "which kind: " + variant_choices(static_cast<const Field*>(nullptr))});
      std::visit([&](const auto& alternative) { collect(alternative, path + "."); }, field);
    } else if constexpr (requires { Field::kTypeName; }) {
      collect(field, path + ".");
    }
  }

  template <class Config>
  static void collect(const Config& config, std::string prefix, std::vector<FieldDoc>& out) {
    FieldDocCollector collector(std::move(prefix), out);
    Config::visit_fields(config, collector);
  }

 private:
  template <class Config>
  void collect(const Config& config, std::string prefix) {
    collect(config, std::move(prefix), out_);
  }

  std::string prefix_;
  std::vector<FieldDoc>& out_;
};

}  // namespace detail

/// Every field of `config` (and of its current variant alternatives) with its documentation,
/// in declaration order; map entries are not descended into (their keys are the user's).
template <class Config>
std::vector<FieldDoc> field_docs(const Config& config) {
  std::vector<FieldDoc> docs;
  detail::FieldDocCollector::collect(config, "", docs);
  return docs;
}

}  // namespace tessera::parameters
