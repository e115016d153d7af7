#include "results/tfrecord.h"

#include <array>
#include <cstring>

namespace t2::results {

namespace {

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reversed Castagnoli
    t[i] = c;
  }
  return t;
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t get_le(std::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
  return v;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = make_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  const uint64_t n = data.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  put_u32(out, masked_crc32c(std::string_view(out.data(), 8)));
  out.append(data);
  put_u32(out, masked_crc32c(data));
  return out;
}

TfRecordScan tfrecord_scan(std::string_view b) {
  TfRecordScan s;
  size_t at = 0;
  while (at < b.size()) {
    if (b.size() - at < 12) break;
    const uint64_t n = get_le(b, at, 8);
    if (static_cast<uint32_t>(get_le(b, at + 8, 4)) != masked_crc32c(b.substr(at, 8))) break;
    if (n > b.size() - at - 12 || b.size() - at - 12 - n < 4) break;
    std::string_view data = b.substr(at + 12, n);
    if (static_cast<uint32_t>(get_le(b, at + 12 + n, 4)) != masked_crc32c(data)) break;
    s.records.emplace_back(data);
    at += 12 + n + 4;
  }
  s.valid_bytes = at;
  s.torn = at < b.size();
  return s;
}

}  // namespace t2::results
