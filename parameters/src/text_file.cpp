#include "tessera/parameters/text_file.hpp"

#include <fstream>
#include <sstream>

#include "tessera/parameters/config_error.hpp"

namespace tessera::parameters {

std::string read_yaml_file(const std::filesystem::path& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) throw ConfigError(path.string(), 0, 0, "", "no such file");
  if (!fs::is_regular_file(status)) {
    throw ConfigError(path.string(), 0, 0, "", "not a regular file (a folder, a device or a pipe); a " + what +
                                                   " is a YAML text file");
  }
  const std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > kMaxYamlFileBytes) {
    throw ConfigError(path.string(), 0, 0, "",
                      "the file holds " + std::to_string(size >> 20) + " MiB; a " + what + " is at most " +
                          std::to_string(kMaxYamlFileBytes >> 20) + " MiB (is it the right file?)");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string(), 0, 0, "", "cannot read the file (no permission?)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace tessera::parameters
