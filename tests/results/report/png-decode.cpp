#include "png-decode.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace t2::test {
namespace {

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

}  // namespace

Image decode_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  const auto* d = reinterpret_cast<const uint8_t*>(s.data());
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  if (s.size() < 8 || s.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw fail("not a PNG (bad signature at byte 0)");
  size_t pos = 8;
  Image img;
  int bpp = 0;
  std::string idat;
  while (pos + 12 <= s.size()) {
    uint32_t n = be32(d + pos);
    std::string kind = s.substr(pos + 4, 4);
    if (pos + 12 + n > s.size()) throw fail("chunk at byte " + std::to_string(pos) + " runs past the end");
    const uint8_t* body = d + pos + 8;
    if (kind == "IHDR") {
      img.width = static_cast<int>(be32(body));
      img.height = static_cast<int>(be32(body + 4));
      int depth = body[8], ctype = body[9], interlace = body[12];
      if (depth != 8 || (ctype != 2 && ctype != 6) || interlace != 0)
        throw fail("unsupported PNG (depth " + std::to_string(depth) + ", colour type " + std::to_string(ctype) + ")");
      bpp = ctype == 2 ? 3 : 4;
    } else if (kind == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), n);
    } else if (kind == "IEND") {
      break;
    }
    pos += 12 + n;
  }
  if (bpp == 0) throw fail("no IHDR chunk");
  const size_t stride = static_cast<size_t>(img.width) * bpp;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf len = raw.size();
  if (uncompress(raw.data(), &len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK || len != raw.size())
    throw fail("corrupt image data (zlib)");
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* line = &raw[y * (stride + 1)];
    int f = line[0];
    for (size_t x = 0; x < stride; ++x) {
      int a = x >= size_t(bpp) ? cur[x - bpp] : 0, b = prev[x], c = x >= size_t(bpp) ? prev[x - bpp] : 0;
      int v = line[1 + x];
      switch (f) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: {
          int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          v += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default: throw fail("bad filter type " + std::to_string(f) + " in row " + std::to_string(y));
      }
      cur[x] = static_cast<uint8_t>(v);
    }
    for (int x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb[(static_cast<size_t>(y) * img.width + x) * 3 + k] = cur[x * bpp + k];
    std::swap(prev, cur);
  }
  return img;
}

size_t count_color(const Image& img, const std::string& hex, int tol) {
  int t[3];
  for (int k = 0; k < 3; ++k) t[k] = std::stoi(hex.substr(1 + 2 * k, 2), nullptr, 16);
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    if (std::abs(img.rgb[i] - t[0]) <= tol && std::abs(img.rgb[i + 1] - t[1]) <= tol && std::abs(img.rgb[i + 2] - t[2]) <= tol)
      ++n;
  return n;
}

}  // namespace t2::test
