// A bound on how much a tokenizer's normalizer or pre-tokenizer may grow a text. Each step is
// HF's, but a chain of them can multiply it: forty Replace "a" -> "aa" steps in a 2 KB
// tokenizer.json grow one "a" to 2^40 bytes (a hang, then out of memory), and so do thirty
// ByteLevel steps on non-ASCII text. No real tokenizer grows a text by more than a few times (NFKC's
// longest expansion is one character to 18; ByteLevel at most doubles it), so more than
// kMaxGrowth times the input plus kGrowthSlack bytes is refused by name.
#pragma once

#include <cstddef>
#include <string>

#include "core/error.h"

namespace gqa::tok {

inline constexpr size_t kMaxGrowth = 64;
inline constexpr size_t kGrowthSlack = 4096;

inline size_t growth_limit(size_t input_bytes) { return input_bytes * kMaxGrowth + kGrowthSlack; }

// Throws gqa::Error naming `where` (the tokenizer's file; empty for one built in code) when `bytes`
// (after step `step` of `steps` of `what`) passes the limit for `input_bytes`.
inline void check_growth(size_t input_bytes, size_t bytes, const std::string& where, const char* what, size_t step,
                         size_t steps) {
  GQA_CHECK(bytes <= growth_limit(input_bytes),
            (where.empty() ? "" : where + ": ") << "tokenizer " << what << ": step " << step + 1 << " of " << steps << " grew a " << input_bytes
                         << "-byte text to " << bytes << " bytes, past " << kMaxGrowth
                         << " times its size: a tokenizer whose steps multiply the text is refused");
}

}  // namespace gqa::tok
