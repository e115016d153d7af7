// Token choice for generation: greedy, or temperature + top-p (nucleus) sampling from a per-sequence
// random stream. Runs on host doubles so that the same logits give the same token on every
// tensor-parallel rank and with every LibTorch version. INTERNAL to workers/.
#pragma once

#include <cstdint>
#include <random>

namespace t2 {

class Sampler {
 public:
  // Stream of sequence `index` for a user seed (splitmix64 of both, so neighbouring seeds differ).
  Sampler(uint64_t seed, uint64_t index);

  // logits: `n` float32 values. temperature <= 0 means argmax (ties to the lowest id).
  int32_t choose(const float* logits, int64_t n, double temperature, double top_p);

 private:
  std::mt19937_64 rng_;
};

}  // namespace t2
