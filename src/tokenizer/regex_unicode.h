// Hugging Face tokenizers' character classes for a PCRE2 pattern. HF's regex engine (Oniguruma) and
// PCRE2 in UCP mode differ where a pre-tokenizer or normalizer pattern would see it:
//  - \s: PCRE2's is \p{Z}, \h and \v, which holds U+180E (MONGOLIAN VOWEL SEPARATOR, no longer
//    white space since Unicode 6.3); HF's is Unicode's White_Space, which does not.
//  - \p{X}: PCRE2 10.42 (Debian 12) has Unicode 14.0's tables, HF 16.0's: 9272 letters and 120
//    digits (CJK Extensions H and I, Egyptian hieroglyphs, Garay, ...) are L / N to HF only.
// hf_character_classes rewrites the pattern so PCRE2 matches as HF does:
//  - \s -> [\t-\r\x{85}\p{Z}] (inside a class, its members), \S -> [^\t-\r\x{85}\p{Z}];
//  - \p{X} and \pX (X a general category, one or two letters) gain the code points that are X in
//    Unicode 16.0 and not in 14.0 (unicode_additions.inc); \P{X} outside a class likewise.
// Left as PCRE2 has them: \S, \P{X} and \PX inside a class (a class cannot subtract), \d and \w,
// and U+1171E, Mn in Unicode 14.0 and Mc in 16.0. A newer PCRE2 already has the added code points,
// so adding them again changes nothing.
#pragma once

#include <string>

namespace gqa::tok {

std::string hf_character_classes(const std::string& pattern);

}  // namespace gqa::tok
