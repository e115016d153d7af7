#include "workers/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace t2 {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

Sampler::Sampler(uint64_t seed, uint64_t index) : rng_(splitmix64(splitmix64(seed) ^ index)) {}

int32_t Sampler::choose(const float* logits, int64_t n, double temperature, double top_p) {
  if (temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
  const double mx = *std::max_element(logits, logits + n);
  std::vector<double> p(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += p[i] = std::exp((logits[i] - mx) / temperature);
  if (top_p >= 1.0) {  // plain sampling: no sort needed
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) * total, acc = 0;
    for (int64_t i = 0; i < n; ++i) {
      acc += p[i];
      if (u < acc) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(n - 1);
  }
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Most probable first; ties by id so the order is fully determined.
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  // Nucleus: the smallest prefix whose mass reaches top_p (at least one token).
  size_t keep = 0;
  double mass = 0;
  while (keep < order.size()) {
    mass += p[order[keep]] / total;
    ++keep;
    if (mass >= top_p) break;
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i) kept += p[order[i]];
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) * kept;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += p[order[i]];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

}  // namespace t2
