#include "tessera/nn/encodings.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tessera/nn/errors.hpp"

namespace tessera::nn {

std::string encodings_json(const Model& model) {
  nlohmann::ordered_json document;
  document["version"] = "tessera-encodings/1";
  document["activation_encodings"] = nlohmann::ordered_json::object();
  document["param_encodings"] = nlohmann::ordered_json::object();
  std::vector<TensorEncoding> encodings;
  for (std::size_t n = 0; n < model.graph().nodes.size(); ++n) model.operator_of(n).list_encodings(encodings);
  for (const TensorEncoding& encoding : encodings) {
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
    document[encoding.parameter ? "param_encodings" : "activation_encodings"][encoding.tensor] = list;
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

}  // namespace tessera::nn
