// SVF trained with the next-token objective (paper Table 4 row 4, the ablation of REINFORCE): the
// loss is the mean negative log-likelihood of the solution tokens given the prompt, over all solution
// tokens of the batch, differentiated to z through the closed-form SVF backward. One shard of a batch:
// normalised by the WHOLE batch's token count, so the shards' gradients add up to the batch gradient,
// which then goes through the same optimizer (optimizer.h) as REINFORCE's. Any PolicyModel (the
// transformer, the MLP policy); under TP the TransformerPolicy all-reduces dL/dz itself.
//
// INTERNAL to experts/ (torch).
#pragma once

#include <cstdint>
#include <vector>

#include "experts/policy-model.h"

namespace t2 {

struct SvfNextTokenGrad {
  double loss = 0;           // this shard's part of the batch loss
  std::vector<float> grad;   // dL/dz, flat over the policy's layout
};

// prompts[b], solutions[b]: one example; batch_tokens: the solution tokens of the whole batch.
SvfNextTokenGrad svf_next_token_gradient(PolicyModel& policy, const std::vector<float>& z,
                                         const std::vector<TokenSeq>& prompts,
                                         const std::vector<TokenSeq>& solutions, int64_t batch_tokens);

}  // namespace t2
