#include "workers/tokenizer-nfc.h"

#include <algorithm>
#include <vector>

namespace t2 {

namespace {

constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr char32_t LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

// Decodes valid UTF-8; false on any malformed sequence.
bool decode_utf8(std::string_view s, std::vector<char32_t>& out) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0 || i + n >= s.size()) return false;
    char32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    out.push_back(cp);
    i += n + 1;
  }
  return true;
}

void encode_utf8(char32_t cp, std::string& s) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

unsigned ccc(char32_t cp) {
  using nfc_data::kCcc;
  if (cp < 0x300) return 0;
  const auto* end = kCcc + nfc_data::kCccCount;
  const auto* it = std::upper_bound(kCcc, end, cp, [](char32_t c, const nfc_data::CccRange& r) { return c < r.lo; });
  if (it == kCcc) return 0;
  --it;
  return cp <= it->hi ? it->ccc : 0;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= SBase && cp < SBase + SCount) {
    char32_t s = cp - SBase;
    out.push_back(LBase + s / NCount);
    out.push_back(VBase + (s % NCount) / TCount);
    if (s % TCount) out.push_back(TBase + s % TCount);
    return;
  }
  using nfc_data::kDecomp;
  const auto* end = kDecomp + nfc_data::kDecompCount;
  const auto* it = std::lower_bound(kDecomp, end, cp, [](const nfc_data::Decomposition& d, char32_t c) { return d.cp < c; });
  if (cp < 0xC0 || it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), nfc_data::kDecompData + it->offset, nfc_data::kDecompData + it->offset + it->length);
}

char32_t compose(char32_t a, char32_t b) {
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
    return a + (b - TBase);
  using nfc_data::kComp;
  const auto* end = kComp + nfc_data::kCompCount;
  const auto* it = std::lower_bound(kComp, end, std::make_pair(a, b), [](const nfc_data::Composition& c, std::pair<char32_t, char32_t> k) {
    return c.first != k.first ? c.first < k.first : c.second < k.second;
  });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}

}  // namespace

bool nfc_is_trivially_normal(std::string_view text) {
  // Every code point below U+0300 is a stable starter (checked by the table generator); in UTF-8
  // they are the bytes below 0xCC.
  for (unsigned char c : text)
    if (c >= 0xCC) return false;
  return true;
}

std::string nfc_normalize(std::string_view text) {
  if (nfc_is_trivially_normal(text)) return std::string(text);
  std::vector<char32_t> cps;
  if (!decode_utf8(text, cps)) return std::string(text);
  std::vector<char32_t> d;
  d.reserve(cps.size() + 8);
  for (char32_t c : cps) decompose(c, d);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (ccc(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && ccc(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j, [](char32_t a, char32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  // Canonical composition (UAX #15): a character joins the last starter unless blocked.
  std::vector<char32_t> out;
  out.reserve(d.size());
  long starter = -1;
  unsigned last = 256;
  for (char32_t c : d) {
    unsigned cc = ccc(c);
    if (starter >= 0 && (last < cc || last == 0)) {
      if (char32_t comp = compose(out[starter], c)) {
        out[starter] = comp;
        continue;
      }
    }
    if (cc == 0) starter = static_cast<long>(out.size());
    last = cc;
    out.push_back(c);
  }
  std::string s;
  s.reserve(text.size());
  for (char32_t c : out) encode_utf8(c, s);
  return s;
}

}  // namespace t2
