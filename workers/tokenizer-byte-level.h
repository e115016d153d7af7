// The GPT-2 byte <-> unicode map of byte-level BPE: every byte is written as one printable code point
// (space -> "Ġ", newline -> "Ċ"), so vocabulary entries are valid UTF-8 strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace t2::byte_level {

// The UTF-8 text of the code point that stands for byte b.
const std::string& byte_to_text(unsigned char b);

// Raw bytes -> byte-level text ("hi there" -> "hiĠthere").
std::string encode(std::string_view bytes);

// Byte-level text -> raw bytes; nullopt when a code point is not one of the 256 byte symbols or the
// text is not valid UTF-8.
std::optional<std::string> decode(std::string_view text);

}  // namespace t2::byte_level
