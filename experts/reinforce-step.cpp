#include "experts/reinforce-step.h"

#include "core/check.h"

namespace t2 {

namespace {
// host: z travels as floats; adapt_z moves it to the model's device (autograd follows the move)
torch::Tensor to_tensor(const std::vector<float>& z) {
  return torch::from_blob(const_cast<float*>(z.data()), {static_cast<int64_t>(z.size())}, torch::kFloat32).clone();
}
}  // namespace

Rollouts reinforce_rollout(PolicyModel& model, const std::vector<float>& z, const std::vector<TokenSeq>& prompts,
                           const ReinforceConfig& c, uint64_t seed) {
  Rollouts r;
  for (size_t i = 0; i < prompts.size(); ++i)
    for (int64_t k = 0; k < c.samples_per_prompt; ++k) {
      r.prompts.push_back(prompts[i]);
      r.group_of.push_back(static_cast<int64_t>(i));
    }
  torch::NoGradGuard ng;
  model.adapt_z(to_tensor(z));
  SampleOptions opt;
  opt.temperature = c.temperature;
  opt.top_p = c.top_p;
  opt.max_new_tokens = c.max_new_tokens;
  r.completions = model.generate(r.prompts, opt, seed);
  return r;
}

LossParts reinforce_loss(const torch::Tensor& policy_lsm, const std::vector<TokenSeq>& completions,
                         const std::vector<double>& advantages, int64_t batch_samples, double kl_coeff,
                         KlDirection dir, const torch::Tensor& ref_lsm) {
  const int64_t B = policy_lsm.size(0), T = policy_lsm.size(1);
  T2_CHECK(static_cast<int64_t>(completions.size()) == B && static_cast<int64_t>(advantages.size()) == B,
           "loss: {} log-softmax rows, {} completions, {} advantages", B, completions.size(), advantages.size());
  T2_CHECK(batch_samples > 0, "loss: batch_samples must be positive");
  // ids and mask filled on the host in one buffer each, then moved once to the log-softmax's device
  std::vector<int64_t> id_host(static_cast<size_t>(B * T), 0);
  std::vector<float> mask_host(static_cast<size_t>(B * T), 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(completions[static_cast<size_t>(b)].size()), T);
    for (int64_t t = 0; t < n; ++t) {
      id_host[static_cast<size_t>(b * T + t)] = completions[static_cast<size_t>(b)][static_cast<size_t>(t)];
      mask_host[static_cast<size_t>(b * T + t)] = 1.0f;
    }
  }
  const torch::Device dev = policy_lsm.device();
  // copy=true: on the CPU .to() would otherwise alias the host buffers, which autograd saves for backward
  auto ids = torch::from_blob(id_host.data(), {B, T}, torch::kLong).to(dev, torch::kLong, false, /*copy=*/true);
  auto mask = torch::from_blob(mask_host.data(), {B, T}, torch::kFloat)
                  .to(dev, policy_lsm.scalar_type(), false, /*copy=*/true);
  LossParts p;
  p.logp = (policy_lsm.gather(2, ids.unsqueeze(2)).squeeze(2) * mask).sum(1);
  auto adv = torch::tensor(advantages, torch::kFloat64).to(dev, policy_lsm.scalar_type());
  auto per_sample = -p.logp * adv;
  if (kl_coeff > 0) {
    T2_CHECK(ref_lsm.defined() && ref_lsm.sizes() == policy_lsm.sizes(), "KL needs the reference log-softmax");
    torch::Tensor kl_pos;
    if (dir == KlDirection::ref_policy)
      kl_pos = (ref_lsm.exp() * (ref_lsm - policy_lsm)).sum(2);
    else
      kl_pos = (policy_lsm.exp() * (policy_lsm - ref_lsm)).sum(2);
    p.kl = (kl_pos * mask).sum(1);
    per_sample = per_sample + kl_coeff * p.kl;
  } else {
    p.kl = torch::zeros({B}, policy_lsm.options());
  }
  p.loss = per_sample.sum() / static_cast<double>(batch_samples);
  return p;
}

ShardGradient reinforce_shard_gradient(PolicyModel& model, const std::vector<float>& z,
                                       const std::vector<TokenSeq>& prompts,
                                       const std::vector<TokenSeq>& completions,
                                       const std::vector<double>& advantages, int64_t batch_samples,
                                       const ReinforceConfig& c) {
  torch::Tensor ref;
  if (c.kl_coeff > 0) {
    torch::NoGradGuard ng;
    model.adapt_base();
    ref = model.completion_log_softmax(prompts, completions);
  }
  auto zt = to_tensor(z).requires_grad_(true);  // on the host: adapt_z moves it to the model
  model.adapt_z(zt);
  auto lsm = model.completion_log_softmax(prompts, completions);
  auto parts = reinforce_loss(lsm, completions, advantages, batch_samples, c.kl_coeff, c.kl_direction, ref);
  ShardGradient g;
  g.samples = static_cast<int64_t>(completions.size());
  g.loss = parts.loss.item<double>();
  g.kl = parts.kl.sum().item<double>();
  g.logp = parts.logp.sum().item<double>();
  if (parts.loss.requires_grad()) {
    auto grad = torch::autograd::grad({parts.loss}, {zt}, {}, false, false, /*allow_unused=*/true)[0];
    if (grad.defined()) {
      grad = grad.contiguous();
      g.grad.assign(grad.data_ptr<float>(), grad.data_ptr<float>() + grad.numel());
    }
  }
  if (g.grad.empty()) g.grad.assign(z.size(), 0.0f);
  model.adapt_base();
  return g;
}

TokenSeq answer_tokens(const TokenSeq& completion, int64_t stop_tokens) {
  T2_CHECK(stop_tokens >= 0 && static_cast<size_t>(stop_tokens) <= completion.size(),
           "answer_tokens: {} stop tokens in a completion of {}", stop_tokens, completion.size());
  return TokenSeq(completion.begin(), completion.end() - stop_tokens);
}

}  // namespace t2
