// Seeded permutations that reproduce the reference code's Python shuffles bit for bit, so that data
// splits and few-shot selections match it: Python's `random.seed(s); random.shuffle(x)` and
// `random.randint`, and NumPy's legacy `np.random.RandomState(s).shuffle(x)`. Both sit on the
// same Mersenne Twister (MT19937); they differ in seeding and in how a bounded integer is drawn.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2::tasks {

class Mt19937 {
 public:
  void seed_python(uint64_t seed);  // random.seed(int): init_by_array over the 32-bit words of |seed|
  void seed_numpy(uint32_t seed);   // RandomState(int): init_genrand(seed)
  uint32_t next_u32();

 private:
  void init_genrand(uint32_t s);
  uint32_t mt_[624];
  int mti_ = 625;
};

// Python's random.Random(seed): getrandbits/_randbelow/shuffle/randint exactly as CPython 3.
class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed) { mt_.seed_python(seed); }
  uint32_t getrandbits(int k);  // 1 <= k <= 32
  uint64_t randbelow(uint64_t n);
  int64_t randint(int64_t a, int64_t b) { return a + static_cast<int64_t>(randbelow(uint64_t(b - a + 1))); }
  template <typename T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) std::swap(x[i], x[randbelow(i + 1)]);
  }

 private:
  Mt19937 mt_;
};

// NumPy's legacy RandomState(seed).shuffle / permutation.
class NumpyRandom {
 public:
  explicit NumpyRandom(uint32_t seed) { mt_.seed_numpy(seed); }
  uint64_t interval(uint64_t max);  // uniform in [0, max], masked rejection as legacy numpy
  template <typename T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) std::swap(x[i], x[interval(i)]);
  }

 private:
  Mt19937 mt_;
};

// 0..n-1 shuffled by `method` ("python" or "numpy") with `seed`. UsageError for another method.
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed, const std::string& method = "python");

}  // namespace t2::tasks
