#include "core/host_memory.h"

#include <unistd.h>

namespace gqa {

size_t physical_memory_bytes() {
  static const size_t bytes = [] {  // (asked once: every host tensor allocation checks against it)
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t{0};
  }();
  return bytes;
}

}  // namespace gqa
