// UTF-8 walking and the Unicode character classes the Hugging Face pipeline relies on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lathe::text {

// Length in bytes of the UTF-8 sequence starting with byte b (1 for stray continuation bytes).
inline size_t utf8_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i past it.
char32_t next_codepoint(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t c);
std::string to_utf8(char32_t c);

// Byte offset of the first invalid UTF-8 sequence, or npos when s is valid.
size_t find_invalid_utf8(std::string_view s);
// Replaces each maximal invalid subsequence with U+FFFD, as Rust's from_utf8_lossy does.
std::string utf8_lossy(std::string_view bytes);

// Character classes, named after the Rust predicates tokenizers uses.
bool is_whitespace(char32_t c);   // White_Space property (char::is_whitespace, regex \s)
bool is_numeric(char32_t c);      // Nd | Nl | No
bool is_alphabetic(char32_t c);   // approximation of the Alphabetic property
bool is_word_char(char32_t c);    // regex \w: Alphabetic | M | Nd | Pc | Join_Control
bool is_punctuation(char32_t c);  // P* categories
bool is_ascii_punctuation(char32_t c);
bool is_other(char32_t c);            // Cc | Cf | Cs | Co (unassigned code points are kept, as in
                                      // the unicode_categories crate tokenizers uses)
bool is_mark(char32_t c);             // M* categories
bool is_mark_nonspacing(char32_t c);  // Mn

// Full lowercase mapping of one code point (Rust char::to_lowercase).
void append_lowercase(std::string& out, char32_t c);

}  // namespace lathe::text
