#include "tessera/parameters/yaml_codec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

namespace tessera::parameters::yaml {
namespace {

int one_based(int zero_based) { return zero_based >= 0 ? zero_based + 1 : 0; }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same =
          std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> split_path(std::string_view dotted_path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= dotted_path.size()) {
    const std::size_t dot = dotted_path.find('.', start);
    const std::size_t end = dot == std::string_view::npos ? dotted_path.size() : dot;
    parts.emplace_back(dotted_path.substr(start, end - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::size_t begin, std::size_t end) {
  std::string text;
  for (std::size_t i = begin; i < end; ++i) text += (i == begin ? "" : ".") + parts[i];
  return text;
}

std::vector<std::string> map_keys(const YAML::Node& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first.Scalar());
  return keys;
}

struct Step {
  std::string key;       // map key or sequence index
  std::size_t consumed;  // path segments it used
};

// Finds which key of `node` the segments from `first` name: the longest run of segments that
// is an existing key (map keys such as "features.0" contain dots), else a sequence index.
Step next_step(const YAML::Node& node, const std::vector<std::string>& parts, std::size_t first, const Location& where,
               bool allow_new_last) {
  if (node.IsMap()) {
    for (std::size_t end = parts.size(); end > first; --end) {
      const std::string key = join(parts, first, end);
      if (node[key].IsDefined()) return {key, end - first};
    }
    if (allow_new_last) return {join(parts, first, parts.size()), parts.size() - first};
    std::string message = "unknown key '" + excerpt(parts[first]) + "'";
    if (auto guess = closest_name(parts[first], map_keys(node)); !guess.empty()) {
      message += "; did you mean '" + guess + "'?";
    }
    throw ConfigError(where.source(), 0, 0, where.path(), message);
  }
  if (node.IsSequence()) {
    const std::string& text = parts[first];
    const bool numeric = !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit);
    if (numeric && std::stoul(text) < node.size()) return {text, 1};
    throw ConfigError(where.source(), 0, 0, where.path(),
                      "expected a list index below " + std::to_string(node.size()) + ", found '" + excerpt(text) + "'");
  }
  throw ConfigError(where.source(), 0, 0, where.path(),
                    "'" + where.path() + "' is a single value and has no field '" + parts[first] + "'");
}

}  // namespace

Location Location::child(std::string_view key) const {
  return Location(source_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

Location Location::element(std::size_t index) const {
  return Location(source_, path_ + "[" + std::to_string(index) + "]");
}

void Location::fail(const YAML::Node& node, const std::string& message) const {
  fail(node.IsDefined() ? node.Mark() : YAML::Mark::null_mark(), message);
}

void Location::fail(const YAML::Mark& mark, const std::string& message) const {
  throw ConfigError(source_, one_based(mark.line), one_based(mark.column), path_, message);
}

std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (is_quoted(node)) return "the string \"" + excerpt(node.Scalar()) + "\"";
  return "'" + excerpt(node.Scalar()) + "'";
}

bool is_quoted(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

bool reads_as_non_string(const std::string& text) {
  if (text.empty() || text == "~" || equal_ignoring_case(text, "null")) return true;
  const YAML::Node plain(text);
  bool flag = false;
  double real = 0.0;
  return YAML::convert<bool>::decode(plain, flag) || YAML::convert<double>::decode(plain, real);
}

void reject_unknown_keys(const YAML::Node& map, const std::vector<std::string>& valid, const Location& where,
                         std::string_view type_name) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = entry.first.IsScalar() ? excerpt(entry.first.Scalar()) : describe_node(entry.first);
    if (!seen.insert(key).second) where.child(key).fail(entry.first.Mark(), "duplicate key '" + key + "'");
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    std::string message = "unknown key '" + key + "' in " + std::string(type_name);
    if (auto guess = closest_name(key, valid); !guess.empty()) {
      message += "; did you mean '" + guess + "'?";
    } else {
      std::string names;
      for (const auto& name : valid) names += (names.empty() ? "" : ", ") + name;
      message += " (valid keys: " + names + ")";
    }
    where.child(key).fail(entry.first.Mark(), message);
  }
}

void check_range(double value, bool integer, const Check& check, const YAML::Node& node, const Location& where) {
  if (check.allows(value)) return;
  where.fail(node, "expected " + check.describe(integer) + ", found " + format_number(value));
}

void decode(const YAML::Node& node, bool& value, const Location& where) {
  if (!node.IsScalar() || is_quoted(node) || !YAML::convert<bool>::decode(node, value)) {
    where.fail(node, "expected true or false, found " + describe_node(node));
  }
}

void decode(const YAML::Node& node, int& value, const Location& where) {
  long long wide = 0;
  if (!node.IsScalar() || is_quoted(node) || !YAML::convert<long long>::decode(node, wide)) {
    where.fail(node, "expected an integer, found " + describe_node(node));
  }
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    where.fail(node, "expected an integer that fits in 32 bits, found " + excerpt(node.Scalar()));
  }
  value = static_cast<int>(wide);
}

void decode(const YAML::Node& node, double& value, const Location& where) {
  if (!node.IsScalar() || is_quoted(node) || !YAML::convert<double>::decode(node, value)) {
    where.fail(node, "expected a number, found " + describe_node(node));
  }
  if (!std::isfinite(value)) where.fail(node, "expected a finite number, found " + excerpt(node.Scalar()));
}

void decode(const YAML::Node& node, std::string& value, const Location& where) {
  if (!node.IsScalar()) where.fail(node, "expected a string, found " + describe_node(node));
  value = node.Scalar();
}

YAML::Node parse(std::string_view text, const std::string& source) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& error) {
    throw ConfigError(source, one_based(error.mark.line), one_based(error.mark.column), "",
                      "YAML syntax error: " + error.msg);
  }
}

namespace {

// yaml-cpp's node emitter writes every scalar plain, so the string "1" would read back as the
// integer 1 elsewhere (Python, pandas); strings that would read as something else are quoted.
void emit_scalar(YAML::Emitter& out, const YAML::Node& node) {
  if (is_quoted(node) && reads_as_non_string(node.Scalar())) out << YAML::DoubleQuoted;
  out << node.Scalar();
}

void emit_node(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& entry : node) {
        out << YAML::Key;
        emit_scalar(out, entry.first);
        out << YAML::Value;
        emit_node(out, entry.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      if (node.Style() == YAML::EmitterStyle::Flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : node) emit_node(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      emit_scalar(out, node);
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

std::string emit(const YAML::Node& node, bool flow) {
  YAML::Emitter out;
  if (flow) out << YAML::Flow;
  emit_node(out, node);
  return std::string(out.c_str()) + (flow ? "" : "\n");
}

namespace {

struct PathEnd {
  YAML::Node parent;  // the map or list holding the last step
  std::string key;    // the last step: a map key or a list index
};

// Follows a dotted path to the parent of its last step (map keys may contain dots; see
// next_step). `allow_new_last` lets the last step name a key that does not exist yet.
PathEnd walk_to_last_step(const YAML::Node& root, std::string_view dotted_path, const Location& where,
                          bool allow_new_last) {
  const std::vector<std::string> parts = split_path(dotted_path);
  YAML::Node node = root;
  Location here = where;
  for (std::size_t i = 0;;) {
    const Step step = next_step(node, parts, i, here, allow_new_last);
    i += step.consumed;
    if (i == parts.size()) return {node, step.key};
    here = here.child(step.key);
    YAML::Node next = node.IsMap() ? node[step.key] : node[std::stoul(step.key)];
    node.reset(next);  // re-point the handle; assignment would overwrite the parent's content
  }
}

}  // namespace

YAML::Node find_path(const YAML::Node& root, std::string_view dotted_path, const Location& where) {
  PathEnd end = walk_to_last_step(root, dotted_path, where, false);
  return end.parent.IsMap() ? end.parent[end.key] : end.parent[std::stoul(end.key)];
}

void replace_path(YAML::Node& root, std::string_view dotted_path, const YAML::Node& value, const Location& where) {
  PathEnd end = walk_to_last_step(root, dotted_path, where, true);
  if (end.parent.IsMap()) {
    end.parent[end.key] = value;
  } else {
    end.parent[std::stoul(end.key)] = value;
  }
}

}  // namespace tessera::parameters::yaml

namespace tessera::parameters {

std::string closest_name(std::string_view name, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& candidate : valid) {
    const std::size_t distance = yaml::edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // Plausible typos only: a couple of edits, or up to a third of the name.
  const std::size_t allowed = std::max<std::size_t>(2, name.size() / 3);
  if (best_distance <= allowed) return best;
  // Or an abbreviation: the shortest valid name starting with it ("PCMLike").
  std::string shortest;
  if (name.size() >= 3) {
    for (const auto& candidate : valid) {
      if (candidate.size() > name.size() && equal_ignoring_case(candidate.substr(0, name.size()), name) &&
          (shortest.empty() || candidate.size() < shortest.size())) {
        shortest = candidate;
      }
    }
  }
  return shortest;
}

}  // namespace tessera::parameters

