// Errors from loading and running models: each names the file, the node and its op type.
#pragma once

#include <stdexcept>
#include <string>

namespace tessera::nn {

/// A model that cannot be loaded or run: malformed file, bad attribute, shape mismatch.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An operator or attribute this simulator does not implement (a ModelError, so callers that
/// only want to report can catch one type; the conformance runner counts these separately).
class UnsupportedError : public ModelError {
 public:
  using ModelError::ModelError;
};

}  // namespace tessera::nn
