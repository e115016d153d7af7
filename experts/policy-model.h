// What REINFORCE, CEM and dispatch need from a model whose adapted matrices carry SVF adapters:
// rollouts and per-position log-probabilities under a given adaptation. The runtime's transformer
// and the small fixture policy (mlp-policy.h) both provide it. INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "experts/z-layout.h"

namespace t2 {

using TokenSeq = std::vector<int64_t>;

struct SampleOptions {
  double temperature = 0.0;       // 0: greedy
  double top_p = 1.0;
  int64_t max_new_tokens = 64;
  std::vector<int64_t> stop_tokens;
};

class PolicyModel {
 public:
  virtual ~PolicyModel() = default;
  virtual ZLayout layout() const = 0;
  virtual int64_t vocab_size() const = 0;

  // Adaptation of every SVF matrix:
  //   z     [total] flat over layout() (may require grad: the backward yields dL/dz),
  //   multipliers [B, total] one row per sequence of the next calls (many experts in one batch),
  //   base  the unadapted weights.
  virtual void adapt_z(const torch::Tensor& z) = 0;
  virtual void adapt_multipliers(const torch::Tensor& m) = 0;
  virtual void adapt_base() = 0;

  // Continues every prompt; `seed` drives sampling (ignored when greedy). Returns the new tokens.
  virtual std::vector<TokenSeq> generate(const std::vector<TokenSeq>& prompts, const SampleOptions& opt,
                                         uint64_t seed) = 0;

  // log π(· | prompt, completion[:t]) at every completion position: [B, T, V], T the longest
  // completion (padding rows are zero); differentiable to the adaptation's z.
  virtual torch::Tensor completion_log_softmax(const std::vector<TokenSeq>& prompts,
                                               const std::vector<TokenSeq>& completions) = 0;
};

}  // namespace t2
