// A stable 64-bit hash of bytes (FNV-1a): the same value on every machine and build, for
// fingerprints that ranks or files compare (unlike std::hash, which may differ between builds).
#pragma once

#include <cstdint>
#include <string_view>

namespace gqa {

uint64_t fnv1a64(std::string_view s);

// fnv1a64, never 0 (0 stays free to mean "none" in a fingerprint the ranks compare).
uint64_t nonzero_fingerprint(std::string_view s);

}  // namespace gqa
