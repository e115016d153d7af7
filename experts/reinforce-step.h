// The worker side of a REINFORCE step (reinforce.h has the coordinator side): rollouts under z, and
// the z-gradient of a shard of the batch through the SVF layers' closed-form backward.
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include "experts/policy-model.h"
#include "experts/reinforce.h"

namespace t2 {

struct Rollouts {
  std::vector<TokenSeq> prompts;       // each prompt repeated samples_per_prompt times
  std::vector<TokenSeq> completions;
  std::vector<int64_t> group_of;       // index of the prompt (in the call's list) of each sample
};

// Composes z into the model and continues every prompt samples_per_prompt times (greedy when
// temperature is 0, else sampled with `seed`).
Rollouts reinforce_rollout(PolicyModel& model, const std::vector<float>& z, const std::vector<TokenSeq>& prompts,
                           const ReinforceConfig& c, uint64_t seed);

// The tokens of a rollout that carry its answer: all but the trailing `stop_tokens` that spelled a
// stop string (workers/stop-strings.h answer_token_count). Only these enter the policy gradient, so an answer that ended
// on a stop string is pushed up or down exactly as the same answer without it (the reference removes
// stop strings from its outputs before scoring their log-likelihood).
TokenSeq answer_tokens(const TokenSeq& completion, int64_t stop_tokens);

struct LossParts {
  torch::Tensor loss;      // scalar: Σ_j (−ℓ_j·A_j + λ·KL_j) / batch_samples
  torch::Tensor logp;      // [B] ℓ_j = Σ_t log π(y_t)
  torch::Tensor kl;        // [B] KL_j summed over positions (zeros when λ = 0)
};

// The loss of a shard from log-softmaxes [B, T, V] (policy, with grad; reference, without).
LossParts reinforce_loss(const torch::Tensor& policy_lsm, const std::vector<TokenSeq>& completions,
                         const std::vector<double>& advantages, int64_t batch_samples, double kl_coeff,
                         KlDirection dir, const torch::Tensor& ref_lsm);

// d(loss of this shard)/dz at z: the reference log-softmax (base weights) when λ > 0, then the
// policy's with z requiring grad, one backward; no dense weight gradient anywhere.
ShardGradient reinforce_shard_gradient(PolicyModel& model, const std::vector<float>& z,
                                       const std::vector<TokenSeq>& prompts,
                                       const std::vector<TokenSeq>& completions,
                                       const std::vector<double>& advantages, int64_t batch_samples,
                                       const ReinforceConfig& c);

}  // namespace t2
