// UTF-8 helpers for the tokenizer: validation, U+FFFD repair, code points, and GPT-2's byte <-> character map.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gqa::tok {

// Length of the well-formed UTF-8 character at s[i], or 0 when the bytes there are not one (a stray
// continuation byte, an overlong form, a surrogate, a value past U+10FFFF, or a character cut short).
size_t utf8_char_len(std::string_view s, size_t i);

// Bytes at s[i] that begin a well-formed character, when the string ends before it is complete
// (0 when s[i..] is not such a prefix). The streaming detokenizer waits for these instead of flushing them.
size_t utf8_incomplete_tail(std::string_view s, size_t i);

bool is_valid_utf8(std::string_view s);

// Each maximal ill-formed subpart becomes one U+FFFD: what Python's bytes.decode("utf-8", "replace") and
// Rust's String::from_utf8_lossy do, so encode(raw bytes) equals HF encode(str after that decode).
std::string repair_utf8(std::string_view s);

// The code point of the well-formed character at s[i] (of length utf8_char_len(s, i) > 0).
char32_t utf8_decode_at(std::string_view s, size_t i, size_t len);
void append_utf8(std::string& out, char32_t cp);

// Unicode White_Space (Rust's char::is_whitespace), used by added tokens' lstrip/rstrip/single_word.
bool is_unicode_whitespace(char32_t cp);

// GPT-2's bytes_to_unicode(): every byte spelled as one printable character (UTF-8 encoded here).
const std::array<std::string, 256>& byte_to_unicode();
// The byte a character of that alphabet stands for, or -1.
int unicode_to_byte(char32_t cp);

}  // namespace gqa::tok
