// UTF-8 helpers for the Jinja string methods: Python strings index, slice and change case by
// code point, so these convert between UTF-8 and code points and classify characters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe::jinja {

// Decodes UTF-8; each invalid byte decodes to U+FFFD.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
// Number of code points (Python len()).
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

// Python str.isspace() for one character.
bool is_space(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
// Letters with case (what str.title() and str.istitle() look at).
bool is_cased(char32_t c);
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

std::string upper(std::string_view s);
std::string lower(std::string_view s);

}  // namespace lathe::jinja
