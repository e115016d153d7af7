#include "jobs/dataset-shuffle.h"

#include <numeric>

#include "core/check.h"

namespace t2::tasks {

void Mt19937::init_genrand(uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < 624; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + uint32_t(i);
  mti_ = 624;
}

void Mt19937::seed_numpy(uint32_t seed) { init_genrand(seed); }

void Mt19937::seed_python(uint64_t seed) {
  // CPython: key = the 32-bit words of abs(seed), least significant first; [0] for seed 0.
  std::vector<uint32_t> key;
  for (uint64_t s = seed; s; s >>= 32) key.push_back(uint32_t(s & 0xffffffffu));
  if (key.empty()) key.push_back(0);
  init_genrand(19650218u);
  size_t i = 1, j = 0, n = key.size();
  for (size_t k = 624 > n ? 624 : n; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + uint32_t(j);
    ++i, ++j;
    if (i >= 624) mt_[0] = mt_[623], i = 1;
    if (j >= n) j = 0;
  }
  for (size_t k = 623; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - uint32_t(i);
    ++i;
    if (i >= 624) mt_[0] = mt_[623], i = 1;
  }
  mt_[0] = 0x80000000u;
  mti_ = 624;
}

uint32_t Mt19937::next_u32() {
  static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
  if (mti_ >= 624) {
    int kk = 0;
    for (; kk < 624 - 397; ++kk) {
      uint32_t y = (mt_[kk] & 0x80000000u) | (mt_[kk + 1] & 0x7fffffffu);
      mt_[kk] = mt_[kk + 397] ^ (y >> 1) ^ mag01[y & 1u];
    }
    for (; kk < 623; ++kk) {
      uint32_t y = (mt_[kk] & 0x80000000u) | (mt_[kk + 1] & 0x7fffffffu);
      mt_[kk] = mt_[kk + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1u];
    }
    uint32_t y = (mt_[623] & 0x80000000u) | (mt_[0] & 0x7fffffffu);
    mt_[623] = mt_[396] ^ (y >> 1) ^ mag01[y & 1u];
    mti_ = 0;
  }
  uint32_t y = mt_[mti_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint32_t PythonRandom::getrandbits(int k) {
  T2_CHECK(k >= 1 && k <= 32, "getrandbits: k must be in [1, 32], got {}", k);
  return mt_.next_u32() >> (32 - k);
}

uint64_t PythonRandom::randbelow(uint64_t n) {
  T2_CHECK(n > 0 && n < (uint64_t(1) << 32), "randbelow: n must be in [1, 2^32), got {}", n);
  int k = 0;
  for (uint64_t v = n; v; v >>= 1) ++k;  // n.bit_length()
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

uint64_t NumpyRandom::interval(uint64_t max) {
  if (max == 0) return 0;
  T2_CHECK(max <= 0xffffffffu, "interval: max {} too large", max);
  uint64_t mask = max;
  mask |= mask >> 1, mask |= mask >> 2, mask |= mask >> 4, mask |= mask >> 8, mask |= mask >> 16;
  uint64_t v;
  while ((v = (mt_.next_u32() & mask)) > max) {
  }
  return v;
}

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed, const std::string& method) {
  std::vector<size_t> ix(n);
  std::iota(ix.begin(), ix.end(), size_t(0));
  if (method == "python") {
    PythonRandom(seed).shuffle(ix);
  } else if (method == "numpy") {
    NumpyRandom(uint32_t(seed)).shuffle(ix);
  } else {
    T2_FAIL_AS(UsageError, "unknown shuffle method '{}': expected 'python' or 'numpy'", method);
  }
  return ix;
}

}  // namespace t2::tasks
