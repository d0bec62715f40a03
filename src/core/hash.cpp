#include "core/hash.h"

namespace gqa {

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

uint64_t nonzero_fingerprint(std::string_view s) {
  const uint64_t h = fnv1a64(s);
  return h != 0 ? h : 1;
}

}  // namespace gqa
