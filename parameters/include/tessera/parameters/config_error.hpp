// The one exception type for bad configuration input: it carries where the bad value was
// (source file, line, column), which key path holds it, and what was wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace tessera::parameters {

/// Input quoted in a message: at most about 80 characters of it, and its length when cut
/// ("root:x:0:0:root:/root:/bin/bash daemon:x:1..." (1279 characters)), so that a wrong
/// file or a huge value never turns into a huge message.
std::string excerpt(const std::string& text);

class ConfigError : public std::runtime_error {
 public:
  /// line and column are 1-based; 0 means "unknown" (e.g. a value set from code).
  ConfigError(std::string source, int line, int column, std::string key_path, std::string message);

  const std::string& source() const { return source_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& key_path() const { return key_path_; }
  /// The bare reason, without the location prefix that what() carries.
  const std::string& reason() const { return reason_; }

 private:
  std::string source_;
  int line_;
  int column_;
  std::string key_path_;
  std::string reason_;
};

}  // namespace tessera::parameters
