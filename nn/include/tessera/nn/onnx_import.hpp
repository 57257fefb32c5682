// Loading ONNX files (opsets 6-17 of the default domain) into a Model.
#pragma once

#include <string>

#include "tessera/nn/model.hpp"

namespace tessera::nn {

/// Reads and checks an ONNX file. Errors (ModelError, or UnsupportedError for an operator or
/// element type that is not simulated) start with the file name and name the node or tensor.
Model load_onnx(const std::string& path);
/// The graph alone (for tools that list a model without running it).
Graph load_onnx_graph(const std::string& path);

/// A tensor stored in ONNX's TensorProto file format (the conformance data's *.pb files).
Value load_onnx_tensor(const std::string& path);

}  // namespace tessera::nn
