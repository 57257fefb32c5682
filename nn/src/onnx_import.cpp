// ONNX protobuf -> Graph. Only the default domain is read; element types float, int64,
// int32 and bool become Values (everything else is refused by name).
#include "tessera/nn/onnx_import.hpp"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>

#include "tessera/nn/errors.hpp"

namespace tessera::nn {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ModelError(where + ": " + what); }

template <class T>
void read_raw(const std::string& raw, std::size_t count, std::vector<float>& out, const std::string& where) {
  if (raw.size() != count * sizeof(T)) {
    fail(where, "raw_data holds " + std::to_string(raw.size()) + " bytes, the shape needs " +
                    std::to_string(count * sizeof(T)) + " (truncated or corrupt tensor)");
  }
  out.resize(count);
  for (std::size_t k = 0; k < count; ++k) {
    T value;
    std::memcpy(&value, raw.data() + k * sizeof(T), sizeof(T));
    out[k] = static_cast<float>(value);
  }
}

template <class Field>
void read_field(const Field& field, std::size_t count, std::vector<float>& out, const std::string& where) {
  if (static_cast<std::size_t>(field.size()) != count) {
    fail(where, "holds " + std::to_string(field.size()) + " values, the shape needs " + std::to_string(count));
  }
  out.assign(field.begin(), field.end());
}

Value to_value(const onnx::TensorProto& proto, const std::string& where) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    throw UnsupportedError(where + ": tensors stored in external files are not supported");
  }
  Shape shape;
  for (std::int64_t d : proto.dims()) {
    if (d < 0) fail(where, "negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  std::int64_t count = 0;
  try {
    count = simulator::element_count(shape);  // refuses shapes over 2^32 elements before any allocation
  } catch (const std::length_error& error) {
    fail(where, error.what());
  }
  if (count > (std::int64_t{1} << 31)) fail(where, "tensor of " + std::to_string(count) + " elements is too large");
  const auto n = static_cast<std::size_t>(count);
  std::vector<float> values;
  DataType type = DataType::kFloat;
  const bool raw = proto.has_raw_data();
  switch (proto.data_type()) {
    case onnx::TensorProto::FLOAT:
      raw ? read_raw<float>(proto.raw_data(), n, values, where) : read_field(proto.float_data(), n, values, where);
      break;
    case onnx::TensorProto::INT64:
      type = DataType::kInt64;
      raw ? read_raw<std::int64_t>(proto.raw_data(), n, values, where)
          : read_field(proto.int64_data(), n, values, where);
      break;
    case onnx::TensorProto::INT32:
      type = DataType::kInt64;
      raw ? read_raw<std::int32_t>(proto.raw_data(), n, values, where)
          : read_field(proto.int32_data(), n, values, where);
      break;
    case onnx::TensorProto::BOOL:
      type = DataType::kBool;
      raw ? read_raw<std::uint8_t>(proto.raw_data(), n, values, where)
          : read_field(proto.int32_data(), n, values, where);
      break;
    default:
      throw UnsupportedError(
          where + ": element type " +
          onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(proto.data_type())) +
          " is not supported (float, int64, int32 and bool are)");
  }
  return Value{type, Tensor(std::move(shape), std::move(values))};
}

Attribute to_attribute(const onnx::AttributeProto& a, const std::string& where) {
  switch (a.type()) {
    case onnx::AttributeProto::INT:
      return static_cast<std::int64_t>(a.i());
    case onnx::AttributeProto::FLOAT:
      return a.f();
    case onnx::AttributeProto::STRING:
      return a.s();
    case onnx::AttributeProto::INTS:
      return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
    case onnx::AttributeProto::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case onnx::AttributeProto::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case onnx::AttributeProto::TENSOR:
      return to_value(a.t(), where + " attribute '" + a.name() + "'");
    default:
      throw UnsupportedError(where + ": attribute '" + a.name() + "' has a type that is not supported (" +
                             onnx::AttributeProto::AttributeType_Name(a.type()) + ")");
  }
}

// Element type of a graph input: floats carry activations, integers carry indices (token ids
// for a Gather), bool masks. Omitted types are taken as float.
DataType input_type(const onnx::ValueInfoProto& input, const std::string& path) {
  if (!input.type().has_tensor_type() || !input.type().tensor_type().has_elem_type()) return DataType::kFloat;
  switch (input.type().tensor_type().elem_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
    case onnx::TensorProto::UNDEFINED:
      return DataType::kFloat;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::UINT32:
      return DataType::kInt64;
    case onnx::TensorProto::BOOL:
      return DataType::kBool;
    default:
      throw UnsupportedError(path + ": graph input '" + input.name() + "' has element type " +
                             onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(
                                 input.type().tensor_type().elem_type())) +
                             " (float, integer and bool inputs are supported)");
  }
}

template <class Message>
void parse_file(const std::string& path, Message& message, const char* what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelError(path + ": cannot open the file (no such file or no permission)");
  if (!message.ParseFromIstream(&file)) {
    throw ModelError(path + ": not a valid " + std::string(what) +
                     " (protobuf parsing failed: truncated or corrupt file?)");
  }
}

}  // namespace

Graph load_onnx_graph(const std::string& path) {
  onnx::ModelProto model;
  parse_file(path, model, "ONNX model");
  if (!model.has_graph()) fail(path, "the file has no graph (is it an ONNX model?)");
  Graph graph;
  graph.source = path;
  bool opset_found = false;
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      graph.opset = static_cast<int>(opset.version());
      opset_found = true;
    }
  }
  if (!opset_found && model.opset_import_size() > 0) {
    throw UnsupportedError(path + ": the model uses only non-default operator domains (first: '" +
                           model.opset_import(0).domain() + "')");
  }
  if (!opset_found) fail(path, "no opset_import for the default ONNX domain");
  if (graph.opset < 6 || graph.opset > 17) {
    throw UnsupportedError(path + ": opset " + std::to_string(graph.opset) + " is outside the supported 6-17");
  }
  const onnx::GraphProto& g = model.graph();
  for (const auto& initializer : g.initializer()) {
    graph.initializers[initializer.name()] = to_value(initializer, path + ": initializer '" + initializer.name() + "'");
  }
  for (const auto& input : g.input()) {
    if (graph.initializers.count(input.name()) > 0) continue;
    if (input.has_type() && !input.type().has_tensor_type()) {
      throw UnsupportedError(path + ": graph input '" + input.name() +
                             "' is not a tensor (sequence, map and optional "
                             "values are not supported)");
    }
    graph.inputs.push_back(input.name());
    graph.input_types.push_back(input_type(input, path));
    if (input.type().tensor_type().has_shape()) {
      graph.ranks[input.name()] = input.type().tensor_type().shape().dim_size();
    }
  }
  for (const auto& output : g.output()) graph.outputs.push_back(output.name());
  for (int n = 0; n < g.node_size(); ++n) {
    const onnx::NodeProto& proto = g.node(n);
    Node node;
    node.name = proto.name().empty() ? proto.op_type() + "_" + std::to_string(n) : proto.name();
    node.op_type = proto.op_type();
    const std::string where = path + ": " + node.describe();
    if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
      throw UnsupportedError(where + ": operators of domain '" + proto.domain() + "' are not supported");
    }
    node.inputs.assign(proto.input().begin(), proto.input().end());
    node.outputs.assign(proto.output().begin(), proto.output().end());
    for (const auto& attribute : proto.attribute())
      node.attributes.set(attribute.name(), to_attribute(attribute, where));
    graph.nodes.push_back(std::move(node));
  }
  return graph;
}

Model load_onnx(const std::string& path) { return Model(load_onnx_graph(path)); }

Value load_onnx_tensor(const std::string& path) {
  onnx::TensorProto tensor;
  parse_file(path, tensor, "ONNX tensor");
  return to_value(tensor, path);
}

}  // namespace tessera::nn
