#include "experts/rng.h"

#include <cmath>
#include <sstream>

#include "core/check.h"

namespace t2 {

double Rng::uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;  // log(0) guard
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Rng::below(int64_t n) {
  T2_CHECK(n > 0, "Rng::below needs a positive bound, got {}", n);
  // Rejection sampling: no modulo bias.
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t x;
  do x = gen_(); while (x >= limit);
  return static_cast<int64_t>(x % un);
}

std::string Rng::save() const {
  std::ostringstream os;
  os << gen_;
  return os.str();
}

Rng Rng::load(const std::string& state) {
  Rng r;
  std::istringstream is(state);
  is >> r.gen_;
  T2_CHECK_AS(FormatError, !is.fail(), "not a saved random stream state ({} bytes)", state.size());
  return r;
}

uint64_t derive_seed(uint64_t base, uint64_t stream) {
  uint64_t x = base + 0x9E3779B97F4A7C15ull * (stream + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace t2
