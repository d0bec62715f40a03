#include "core/error.h"

#include <filesystem>

namespace gqa {

std::string error_text(const std::exception& e) {
  const auto* fs = dynamic_cast<const std::filesystem::filesystem_error*>(&e);
  if (fs == nullptr || fs->path1().empty()) return e.what();
  std::string text = "cannot access " + fs->path1().string();
  if (!fs->path2().empty()) text += " or " + fs->path2().string();
  return text + ": " + fs->code().message();
}

void throw_error(const std::string& message, const char* file, int line) {
  if (file == nullptr) throw Error(message);
  std::ostringstream os;
  os << message << " (at " << file << ":" << line << ")";
  throw Error(os.str());
}

}  // namespace gqa
