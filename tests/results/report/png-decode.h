// A small PNG decoder for tests (8-bit RGB/RGBA, non-interlaced: what Chromium's --screenshot
// writes), so screenshots can be checked without an imaging library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2::test {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;   // width * height * 3
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

// Throws std::runtime_error naming the file and what is unsupported or corrupt.
Image decode_png(const std::string& path);

// Pixels within `tolerance` (per channel) of "#rrggbb".
size_t count_color(const Image& img, const std::string& hex, int tolerance = 8);

}  // namespace t2::test
