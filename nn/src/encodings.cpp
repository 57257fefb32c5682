#include "tessera/nn/encodings.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tessera/nn/errors.hpp"
#include "tessera/simulator/block_layout.hpp"

namespace tessera::nn {
namespace {

struct ListedEncoding {
  TensorEncoding encoding;
  std::size_t node = 0;
};

std::vector<ListedEncoding> list_all_encodings(const Model& model) {
  std::vector<ListedEncoding> listed;
  for (std::size_t n = 0; n < model.graph().nodes.size(); ++n) {
    std::vector<TensorEncoding> encodings;
    model.operator_of(n).list_encodings(encodings);
    for (TensorEncoding& e : encodings) listed.push_back({std::move(e), n});
  }
  return listed;
}

std::string_view role_name(EncodingRole role) {
  switch (role) {
    case EncodingRole::input:
      return "input";
    case EncodingRole::weight:
      return "weight";
    case EncodingRole::output:
      return "output";
  }
  return "?";
}

}  // namespace

std::string encodings_json(const Model& model) {
  nlohmann::ordered_json document;
  document["version"] = "tessera-encodings/1";
  document["activation_encodings"] = nlohmann::ordered_json::object();
  document["param_encodings"] = nlohmann::ordered_json::object();
  for (const ListedEncoding& listed : list_all_encodings(model)) {
    const TensorEncoding& encoding = listed.encoding;
    const simulator::AffineQuantizer& q = *encoding.quantizer;
    if (!q.is_initialized()) {
      throw ModelError(model.graph().source + ": tensor '" + encoding.tensor +
                       "' has no encodings yet; run compute_encodings with calibration data first");
    }
    const std::vector<std::int64_t> offsets = q.offset();
    const std::vector<float> mins = q.min(), maxs = q.max();
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < q.scale().size(); ++i) {
      list.push_back({{"bitwidth", q.options().bitwidth},
                      {"is_symmetric", q.options().symmetric},
                      {"scale", q.scale()[i]},
                      {"offset", offsets[i]},
                      {"min", mins[i]},
                      {"max", maxs[i]}});
    }
    document[encoding.is_parameter() ? "param_encodings" : "activation_encodings"][encoding.tensor] = list;
  }
  return document.dump(2) + "\n";
}

void save_encodings_json(const Model& model, const std::string& path) {
  const std::string text = encodings_json(model);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary);
    if (!file) throw ModelError(path + ": cannot write the encodings file (missing folder or no permission)");
    file << text;
    if (!file.flush()) throw ModelError(path + ": writing the encodings failed (disk full?)");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw ModelError(path + ": cannot move the encodings file into place");
  }
}

void load_encodings_json(Model& model, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelError(path + ": cannot open the encodings file");
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(path + ": not valid JSON: " + e.what());
  }
  std::vector<std::size_t> touched;
  for (const ListedEncoding& listed : list_all_encodings(model)) {
    const TensorEncoding& e = listed.encoding;
    const char* section = e.is_parameter() ? "param_encodings" : "activation_encodings";
    const std::string where = path + ": " + section + "." + e.tensor;
    if (!document.contains(section) || !document[section].is_object() || !document[section].contains(e.tensor)) {
      throw ModelError(where + ": missing; the model quantizes this tensor (" + std::string(role_name(e.role)) +
                       " of a " + model.graph().nodes[listed.node].op_type +
                       " node): were the encodings saved from a model converted otherwise (another map, or "
                       "fused activations: quantization.fuse_activations)?");
    }
    const nlohmann::json& list = document[section][e.tensor];
    const auto channels = static_cast<std::size_t>(e.quantizer->encoding_count());
    if (!list.is_array() || list.size() != channels) {
      throw ModelError(where + ": expected a list of " + std::to_string(channels) + " encodings, found " +
                       (list.is_array() ? std::to_string(list.size()) + " entries" : std::string(list.type_name())));
    }
    std::vector<float> scale;
    std::vector<std::int64_t> zero_point;
    for (std::size_t c = 0; c < channels; ++c) {
      const nlohmann::json& entry = list[c];
      if (!entry.is_object() || !entry.contains("scale") || !entry["scale"].is_number() || !entry.contains("offset") ||
          !entry["offset"].is_number_integer()) {
        throw ModelError(where + "[" + std::to_string(c) + "]: expected numbers 'scale' and integer 'offset'");
      }
      if (entry.contains("bitwidth") && entry["bitwidth"] != e.quantizer->options().bitwidth) {
        throw ModelError(where + "[" + std::to_string(c) + "]: bitwidth " + entry["bitwidth"].dump() +
                         " but the model quantizes it to " + std::to_string(e.quantizer->options().bitwidth) + " bits");
      }
      scale.push_back(entry["scale"].get<float>());
      zero_point.push_back(-entry["offset"].get<std::int64_t>());  // AIMET's offset is -zero_point
    }
    try {
      e.quantizer->set_encodings(scale, zero_point);
    } catch (const std::exception& error) {
      throw ModelError(where + ": " + error.what());
    }
    touched.push_back(listed.node);
  }
  for (std::size_t n : touched) model.operator_of(n).encodings_changed();
}

namespace {
// The quantizer of `role` of a converted module (activation roles: of the module's call `call`).
ListedEncoding module_quantizer(const Model& model, const std::string& module, const std::string& role, int call) {
  if (model.find_module(module) == nullptr) throw ModelError(model.graph().source + ": no module '" + module + "'");
  for (ListedEncoding& listed : list_all_encodings(model)) {
    const Node& node = model.graph().nodes[listed.node];
    if (node.module != module || role_name(listed.encoding.role) != role) continue;
    if (listed.encoding.role != EncodingRole::weight && node.call != call) continue;
    return listed;
  }
  throw ModelError(model.graph().source + ": module '" + module + "' has no " + role + " quantizer" +
                   (call > 0 ? " in call " + std::to_string(call) : std::string()) +
                   " (roles are input, weight, output; is the model converted?)");
}
}  // namespace

void set_module_encodings(Model& model, const std::string& module, const std::string& role,
                          std::span<const float> scale, std::span<const std::int64_t> zero_point, int call) {
  const ListedEncoding listed = module_quantizer(model, module, role, call);
  try {
    listed.encoding.quantizer->set_encodings(scale, zero_point);
  } catch (const std::invalid_argument& error) {
    throw ModelError(model.graph().source + ": module '" + module + "', " + role + " quantizer: " + error.what());
  }
  model.operator_of(listed.node).encodings_changed();
}

std::pair<std::vector<float>, std::vector<std::int64_t>> module_encodings(const Model& model, const std::string& module,
                                                                          const std::string& role, int call) {
  const simulator::AffineQuantizer& q = *module_quantizer(model, module, role, call).encoding.quantizer;
  if (!q.is_initialized()) {
    throw ModelError(model.graph().source + ": module '" + module + "', " + role +
                     " quantizer: no encodings yet; run compute_encodings with calibration data first");
  }
  return {q.scale(), q.zero_point()};
}

namespace {
// Whether `q` holds the encodings its own range estimator gives for `weight`: then values
// beyond the range are the estimator's choice (MSE and percentile clip outliers on purpose).
bool computed_from(const simulator::AffineQuantizer& q, const Tensor& weight) {
  simulator::QuantizeDequantize fresh(q.options());
  {
    auto calibration = fresh.compute_encodings();
    fresh(weight);
    calibration.finish();
  }
  for (std::size_t k = 0; k < q.scale().size(); ++k) {
    if (std::abs(fresh.scale()[k] - q.scale()[k]) > 1e-6f * q.scale()[k] || fresh.zero_point()[k] != q.zero_point()[k]) {
      return false;
    }
  }
  return true;
}
}  // namespace

void check_weight_encodings(const Model& model) {
  std::string problems;
  for (const ListedEncoding& listed : list_all_encodings(model)) {
    const TensorEncoding& e = listed.encoding;
    const auto initializer = model.graph().initializers.find(e.tensor);
    if (!e.is_parameter() || initializer == model.graph().initializers.end() || !e.quantizer->is_initialized()) {
      continue;
    }
    const Tensor& weight = initializer->second.tensor;
    const simulator::AffineQuantizer& q = *e.quantizer;
    const std::vector<float> mins = q.min(), maxs = q.max();
    const simulator::BlockLayout layout(weight.shape(), q.options().shape, q.options().block_size);
    std::int64_t outside = 0;
    float worst = 0.0f;  // how far beyond the range, in steps
    layout.for_each_run([&](std::int64_t first, std::int64_t length, std::int64_t encoding, std::int64_t step) {
      for (std::int64_t i = 0; i < length; ++i) {
        const auto k = static_cast<std::size_t>(encoding + step * i);
        const float value = weight[first + i], half_step = 0.5f * q.scale()[k];
        const float beyond = std::max(mins[k] - value, value - maxs[k]);
        if (beyond > half_step * 1.0001f) {
          ++outside;
          worst = std::max(worst, beyond / q.scale()[k]);
        }
      }
    });
    if (outside > 0 && !computed_from(q, weight)) {
      problems += "\n  " + e.tensor + ": " + std::to_string(outside) + " of " + std::to_string(weight.size()) +
                  " values outside the encodings (up to " + std::to_string(worst) + " steps beyond)";
    }
  }
  if (!problems.empty()) {
    throw ModelError(model.graph().source + ": weight encodings do not cover the weights the model holds "
                     "(computed on other weights, e.g. before a BatchNorm was folded):" + problems);
  }
}

}  // namespace tessera::nn
