#include "tessera/nn/module_types.hpp"

#include <algorithm>
#include <map>

#include "tessera/nn/errors.hpp"
#include "tessera/nn/operator.hpp"
#include "tessera/parameters/enum_names.hpp"

namespace tessera::nn {
namespace {

constexpr ModuleTypeTraits kMatrixLayer{true, true, true, false};     // Linear, Conv, RNNs, attention
constexpr ModuleTypeTraits kEmbedding{false, true, true, false};      // a lookup table: no product to map
constexpr ModuleTypeTraits kDigitalMatrix{false, false, true, false};  // ConvTranspose: not mapped yet
constexpr ModuleTypeTraits kNormalization{false, false, false, true};
constexpr ModuleTypeTraits kPlain{};

const std::map<std::string, ModuleTypeTraits, std::less<>>& vocabulary() {
  static const std::map<std::string, ModuleTypeTraits, std::less<>> types = [] {
    std::map<std::string, ModuleTypeTraits, std::less<>> t;
    for (const char* name : {"Linear", "Conv1d", "Conv2d", "Conv3d", "LSTM", "GRU", "RNN", "MultiheadAttention"}) {
      t[name] = kMatrixLayer;
    }
    t["Embedding"] = kEmbedding;
    for (const char* name : {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}) t[name] = kDigitalMatrix;
    for (const char* name : {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
                             "InstanceNorm3d", "LayerNorm", "GroupNorm", "PReLU"}) {
      t[name] = kNormalization;
    }
    for (const char* name :
         {"ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardtanh",
          "Hardsigmoid", "Hardswish", "Softmax", "LogSoftmax", "Softplus", "Softsign", "MaxPool1d", "MaxPool2d",
          "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
          "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Flatten", "Dropout",
          "Identity", "Upsample"}) {
      t[name] = kPlain;
    }
    return t;
  }();
  return types;
}

// ONNX operators whose modules are named by torch classes instead.
const std::map<std::string, std::string, std::less<>>& renamed_operators() {
  static const std::map<std::string, std::string, std::less<>> names{
      {"Gemm", "Linear"},
      {"Conv", "Conv1d, Conv2d or Conv3d"},
      {"ConvTranspose", "ConvTranspose1d, ConvTranspose2d or ConvTranspose3d"},
      {"Gather", "Embedding (a lookup in a weight table)"},
      {"BatchNormalization", "BatchNorm1d, BatchNorm2d or BatchNorm3d"},
      {"BatchNorm", "BatchNorm1d, BatchNorm2d or BatchNorm3d"},
      {"InstanceNormalization", "InstanceNorm1d, InstanceNorm2d or InstanceNorm3d"},
      {"LayerNormalization", "LayerNorm"},
      {"Relu", "ReLU"},
      {"Clip", "ReLU6 or Hardtanh"},
      {"LeakyRelu", "LeakyReLU"},
      {"PRelu", "PReLU"},
      {"Elu", "ELU"},
      {"Selu", "SELU"},
      {"Celu", "CELU"},
      {"Gelu", "GELU"},
      {"HardSigmoid", "Hardsigmoid"},
      {"HardSwish", "Hardswish"},
      {"MaxPool", "MaxPool1d, MaxPool2d or MaxPool3d"},
      {"AveragePool", "AvgPool1d, AvgPool2d or AvgPool3d"},
      {"GlobalAveragePool", "AdaptiveAvgPool1d, AdaptiveAvgPool2d or AdaptiveAvgPool3d"},
      {"GlobalMaxPool", "AdaptiveMaxPool1d, AdaptiveMaxPool2d or AdaptiveMaxPool3d"},
      {"Resize", "Upsample"},
  };
  return names;
}

}  // namespace

const std::vector<std::string>& torch_module_types() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& entry : vocabulary()) list.push_back(entry.first);
    return list;
  }();
  return names;
}

ModuleTypeTraits module_type_traits(std::string_view type) {
  const auto found = vocabulary().find(type);
  return found == vocabulary().end() ? kPlain : found->second;
}

std::vector<std::string> valid_module_types() {
  std::vector<std::string> names = torch_module_types();
  for (std::string_view op : supported_op_types()) {
    if (renamed_operators().count(op) == 0 && vocabulary().count(op) == 0) names.emplace_back(op);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void check_module_types(const std::string& key, const std::vector<std::string>& types) {
  const std::vector<std::string> valid = valid_module_types();
  for (const std::string& type : types) {
    if (std::binary_search(valid.begin(), valid.end(), type)) continue;
    if (const auto renamed = renamed_operators().find(type); renamed != renamed_operators().end()) {
      throw ModelError(key + ": '" + type + "' is an ONNX operator; module types are torch class names: " +
                       renamed->second);
    }
    std::string message = key + ": unknown module type '" + type + "'";
    if (const std::string guess = parameters::closest_name(type, valid); !guess.empty()) {
      throw ModelError(message + "; did you mean '" + guess + "'?");
    }
    std::string listing;
    for (const std::string& name : torch_module_types()) listing += (listing.empty() ? "" : ", ") + name;
    throw ModelError(message + " (torch module types: " + listing +
                     "; functional ONNX operators such as Add keep their name)");
  }
}

}  // namespace tessera::nn
