#include "experts/svf-next-token.h"

#include "core/check.h"

namespace t2 {

SvfNextTokenGrad svf_next_token_gradient(PolicyModel& policy, const std::vector<float>& z,
                                         const std::vector<TokenSeq>& prompts,
                                         const std::vector<TokenSeq>& solutions, int64_t batch_tokens) {
  T2_CHECK(prompts.size() == solutions.size(), "{} prompts but {} solutions", prompts.size(), solutions.size());
  T2_CHECK(batch_tokens > 0, "next-token SVF step over a batch without solution tokens");
  T2_CHECK(static_cast<int64_t>(z.size()) == policy.layout().total(), "z has {} entries, the policy's layout {}",
           z.size(), policy.layout().total());
  SvfNextTokenGrad out;
  auto zt = torch::from_blob(const_cast<float*>(z.data()), {static_cast<int64_t>(z.size())}, torch::kFloat)
                .clone()
                .requires_grad_(true);
  if (prompts.empty()) {
    out.grad.assign(z.size(), 0.f);
    return out;
  }
  torch::AutoGradMode on(true);
  policy.adapt_z(zt);
  auto lsm = policy.completion_log_softmax(prompts, solutions);  // [B, T, V]
  const int64_t B = lsm.size(0), T = lsm.size(1);
  auto ids = torch::zeros({B, T}, torch::kLong);
  auto mask = torch::zeros({B, T}, torch::kFloat);
  for (int64_t b = 0; b < B; ++b)
    for (size_t t = 0; t < solutions[static_cast<size_t>(b)].size(); ++t) {
      ids[b][static_cast<int64_t>(t)] = solutions[static_cast<size_t>(b)][t];
      mask[b][static_cast<int64_t>(t)] = 1.f;
    }
  auto lp = lsm.gather(2, ids.to(lsm.device()).unsqueeze(2)).squeeze(2);
  auto loss = -(lp * mask.to(lp.device())).to(torch::kFloat64).sum() / static_cast<double>(batch_tokens);
  loss.backward();
  policy.adapt_base();
  out.loss = loss.item<double>();
  auto g = zt.grad().defined() ? zt.grad().contiguous() : torch::zeros_like(zt);
  out.grad.assign(g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
  return out;
}

}  // namespace t2
