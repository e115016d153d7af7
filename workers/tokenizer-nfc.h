// Unicode NFC normalisation (Qwen2's tokenizer.json normalizer), without ICU: canonical decomposition,
// canonical ordering, canonical composition, Hangul done algorithmically. The tables are generated
// from Python's unicodedata (workers/tokenizer-nfc-data.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace t2 {

// True when text has no code point at or above U+0300: such text is already NFC (fast path).
bool nfc_is_trivially_normal(std::string_view text);

// The NFC form of valid UTF-8 text; invalid bytes are passed through unchanged.
std::string nfc_normalize(std::string_view text);

namespace nfc_data {
struct CccRange {
  char32_t lo, hi;
  unsigned char ccc;
};
struct Decomposition {
  char32_t cp;
  unsigned offset, length;  // into kDecompData
};
struct Composition {
  char32_t first, second, composite;
};
extern const char* const kUnicodeVersion;
extern const CccRange kCcc[];
extern const size_t kCccCount;
extern const Decomposition kDecomp[];
extern const size_t kDecompCount;
extern const char32_t kDecompData[];
extern const Composition kComp[];
extern const size_t kCompCount;
}  // namespace nfc_data

}  // namespace t2
