// A small autoregressive policy made of SVF-adapted linear layers, for tests and benchmarks of the
// algorithms without a transformer: the next-token distribution at position t is
//     h = e(x_t) + mean_{s≤t} e(x_s);  logits = W3 · tanh(W2 · tanh(W1 · h))
// with W1, W2, W3 adapted (names "mlp.0", "mlp.1", "head"). Deterministic on CPU; generation
// samples with t2's Rng, so a seed gives the same rollouts everywhere. INTERNAL to experts/ (torch).
#pragma once

#include "experts/policy-model.h"
#include "experts/svf-linear.h"

namespace t2 {

class MlpPolicy : public PolicyModel {
 public:
  // Random weights from `seed` (torch's generator), vocabulary `vocab`, width `width`.
  MlpPolicy(int64_t vocab, int64_t embed, int64_t width, uint64_t seed);

  ZLayout layout() const override;
  int64_t vocab_size() const override { return vocab_; }
  void adapt_z(const torch::Tensor& z) override;
  void adapt_multipliers(const torch::Tensor& m) override;
  void adapt_base() override;
  std::vector<TokenSeq> generate(const std::vector<TokenSeq>& prompts, const SampleOptions& opt,
                                 uint64_t seed) override;
  torch::Tensor completion_log_softmax(const std::vector<TokenSeq>& prompts,
                                       const std::vector<TokenSeq>& completions) override;

  // Dense replacement (the runtime's set_weight path): plain layers with these W' until the next adapt_*.
  void adapt_dense(std::vector<torch::Tensor> W);

  const std::vector<torch::Tensor>& weights() const { return W_; }
  const std::vector<SvfFactors>& factors() const { return F_; }
  // Logits [rows, V] for feature rows h [rows, embed] (row_of: the sequence of each row).
  torch::Tensor logits(const torch::Tensor& h, const torch::Tensor& row_of);

 private:
  torch::Tensor features(const std::vector<TokenSeq>& seqs, std::vector<int64_t>* row_seq);
  int64_t vocab_;
  torch::Tensor E_;                    // [V, embed]
  std::vector<torch::Tensor> W_;       // frozen, never require grad
  std::vector<torch::Tensor> dense_;   // the weights of the plain (unadapted) path
  std::vector<SvfFactors> F_;
  std::vector<std::unique_ptr<SvfLinearAdapter>> adapters_;  // empty: base weights
};

}  // namespace t2
