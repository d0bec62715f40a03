#include "core/error.h"

namespace gqa {

void throw_error(const std::string& message, const char* file, int line) {
  if (file == nullptr) throw Error(message);
  std::ostringstream os;
  os << message << " (at " << file << ":" << line << ")";
  throw Error(os.str());
}

}  // namespace gqa
