#include "experts/z-layout.h"

#include <cmath>

#include "core/check.h"
#include "core/names.h"
#include "experts/rng.h"

namespace t2 {

int64_t ZLayout::total() const {
  int64_t t = 0;
  for (auto s : sizes) t += s;
  return t;
}

int64_t ZLayout::offset(size_t i) const {
  T2_CHECK(i <= sizes.size(), "matrix index {} out of range ({} matrices)", i, sizes.size());
  int64_t t = 0;
  for (size_t j = 0; j < i; ++j) t += sizes[j];
  return t;
}

size_t ZLayout::index(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return i;
  T2_FAIL_AS(UsageError, "no adapted matrix named '{}': {}", name, suggest(name, names));
}

std::vector<float> z_init(const ZLayout& layout, uint64_t seed, double mean, double std) {
  std::vector<float> z;
  z.reserve(layout.total());
  for (size_t i = 0; i < layout.sizes.size(); ++i) {
    Rng rng(derive_seed(seed, i));
    for (int64_t j = 0; j < layout.sizes[i]; ++j) z.push_back(static_cast<float>(mean + std * rng.normal()));
  }
  return z;
}

std::vector<float> z_multipliers(const std::vector<float>& z) {
  std::vector<float> m(z.size());
  for (size_t i = 0; i < z.size(); ++i) m[i] = 1.0f / (1.0f + std::exp(-z[i]));
  return m;
}

}  // namespace t2
