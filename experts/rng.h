// The random stream of t2's algorithms: std::mt19937_64 with our own uniform/normal transforms (the
// standard library's distributions are implementation-defined), so a seed gives the same numbers on
// every platform and the stream's state is a value that can be saved and resumed bit-identically.
// Torch-free (public).
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace t2 {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : gen_(seed) {}
  uint64_t next() { return gen_(); }
  double uniform();                 // [0, 1), 53 random bits
  double normal();                  // N(0, 1) by Box–Muller, no cached second value
  int64_t below(int64_t n);         // uniform integer in [0, n)
  std::string save() const;         // the full engine state as text
  static Rng load(const std::string& state);  // throws FormatError on a bad state string

 private:
  std::mt19937_64 gen_;
};

// A seed for stream `stream` derived from a base seed (splitmix64), e.g. one per matrix or per rollout.
uint64_t derive_seed(uint64_t base, uint64_t stream);

}  // namespace t2
