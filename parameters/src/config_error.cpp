#include "tessera/parameters/config_error.hpp"

#include <utility>

namespace tessera::parameters {

std::string excerpt(const std::string& text) {
  constexpr std::size_t kShown = 72;
  if (text.size() <= kShown + 8) return text;
  std::size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " characters)";
}
namespace {

std::string format_message(const std::string& source, int line, int column, const std::string& key_path,
                           const std::string& reason) {
  std::string text = source.empty() ? std::string("<config>") : source;
  if (line > 0) {
    text.append(":").append(std::to_string(line)).append(":").append(std::to_string(column));
  }
  text.append(": ");
  if (!key_path.empty()) text.append(key_path).append(": ");
  text.append(reason);
  return text;
}

}  // namespace

ConfigError::ConfigError(std::string source, int line, int column, std::string key_path, std::string message)
    : std::runtime_error(format_message(source, line, column, key_path, message)),
      source_(std::move(source)),
      line_(line),
      column_(column),
      key_path_(std::move(key_path)),
      reason_(std::move(message)) {}

}  // namespace tessera::parameters
