// Hugging Face tokenizers' character classes for a PCRE2 pattern. HF's regex engine (Oniguruma) and
// PCRE2 in UCP mode differ where a pre-tokenizer or normalizer pattern would see it:
//  - \s: PCRE2's is \p{Z}, \h and \v, which holds U+180E (MONGOLIAN VOWEL SEPARATOR, no longer
//    white space since Unicode 6.3); HF's is Unicode's White_Space, which does not.
//  - \p{X}: PCRE2 10.42 (Debian 12) has Unicode 14.0's tables, HF 16.0's: 9272 letters and 120
//    numbers (CJK Extensions H and I, Egyptian hieroglyphs, Garay, ...) are L / N to HF only.
// hf_character_classes rewrites the pattern so PCRE2 matches as HF does:
//  - \s -> [\t-\r\x{85}\p{Z}] (inside a class, its members), \S -> [^\t-\r\x{85}\p{Z}];
//  - \p{X} (X a general category, one or two letters) gains the code points that are X in Unicode
//    16.0 and not in 14.0 (unicode_additions.inc); \P{X} outside a class likewise; \d -> \p{Nd} so;
//  - Oniguruma's (Ruby syntax) own readings: \h a hexadecimal digit (PCRE2: horizontal space), and
//    \pL / \PL without braces the text "pL" / "PL".
// Left as PCRE2 has them: \S, \D, \H and \P{X} inside a class (a class cannot subtract), \w,
// \p{C} / \p{Cn} (code points assigned since 14.0 are still unassigned to PCRE2), scripts, POSIX
// classes, a '[' inside an (?x) comment, and U+1171E (Mn in 14.0, Mc in 16.0). A class that never
// closes leaves the whole pattern as written. A newer PCRE2 already has the added code points, so
// adding them again changes nothing. The cost: the split patterns' larger classes (a review measured
// GPT-2's 1.45x and Llama-3's 1.9x slower under PCRE2's JIT, 8 MB of mixed text in 0.048 / 0.075 s).
#pragma once

#include <string>

namespace gqa::tok {

std::string hf_character_classes(const std::string& pattern);

}  // namespace gqa::tok
