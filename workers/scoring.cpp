// Model::score: log p(continuation | prompt) per token, for a batch, in one forward without a cache.
// Only the hidden states that predict continuation tokens go through the LM head, so the vocabulary
// projection costs (continuation tokens x vocab), not (all tokens x vocab).
#include "core/check.h"
#include "workers/model.h"
#include "workers/memory-sizing.h"

namespace t2 {

std::vector<torch::Tensor> Model::score(const std::vector<std::vector<int32_t>>& prompts,
                                        const std::vector<std::vector<int32_t>>& continuations, bool grad) {
  T2_CHECK_AS(UsageError, prompts.size() == continuations.size(), "score: {} prompts but {} continuations",
              prompts.size(), continuations.size());
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<torch::Tensor> out;
  if (B == 0) return out;
  int64_t L = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const auto& c = continuations[static_cast<size_t>(b)];
    T2_CHECK_AS(UsageError, !p.empty(), "score: prompt {} is empty (the first continuation token needs a prefix)", b);
    for (const auto* v : {&p, &c})
      for (int32_t id : *v)
        T2_CHECK_AS(UsageError, id >= 0 && id < cfg_.vocab_size, "score: sequence {}: token id {} outside [0, {})", b,
                    id, cfg_.vocab_size);
    L = std::max<int64_t>(L, static_cast<int64_t>(p.size() + c.size()));
  }
  T2_CHECK_AS(UsageError, L <= cfg_.max_position_embeddings, "score: a sequence of {} tokens exceeds the context of {}",
              L, cfg_.max_position_embeddings);

  std::vector<int64_t> ids(static_cast<size_t>(B * L), 0), pos(static_cast<size_t>(B * L), 0), valid(static_cast<size_t>(B * L), 0);
  std::vector<int64_t> rows, targets, counts;  // flat row (b*L + j) predicting each target
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int32_t> full = prompts[static_cast<size_t>(b)];
    const auto& c = continuations[static_cast<size_t>(b)];
    const int64_t plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), c.begin(), c.end());
    const int64_t pad = L - static_cast<int64_t>(full.size());
    for (size_t j = 0; j < full.size(); ++j) {
      size_t at = static_cast<size_t>(b * L + pad) + j;
      ids[at] = full[j];
      pos[at] = static_cast<int64_t>(j);
      valid[at] = 1;
    }
    for (size_t j = 0; j < c.size(); ++j) {
      rows.push_back(b * L + pad + plen - 1 + static_cast<int64_t>(j));
      targets.push_back(c[j]);
    }
    counts.push_back(static_cast<int64_t>(c.size()));
  }

  torch::AutoGradMode mode(grad);  // base weights never require grad: the graph reaches adapters only
  ForwardInput in;
  // host: forward_hidden moves ids, positions, valid and seq to the model's device
  in.ids = torch::tensor(ids, torch::kLong).view({B, L});
  in.positions = torch::tensor(pos, torch::kLong).view({B, L});
  in.valid = torch::tensor(valid, torch::kLong).view({B, L}).to(torch::kBool);
  in.seq = torch::arange(B, torch::kLong);
  torch::Tensor h = forward_hidden(in).reshape({B * L, cfg_.hidden_size});
  torch::Tensor row_idx = torch::tensor(rows, torch::kLong).to(device_);
  torch::Tensor target_idx = torch::tensor(targets, torch::kLong).to(device_);
  // log p(target) = logit(target) - logsumexp(logits), in blocks of rows (workers/memory-sizing.h):
  // no [rows, vocab] log-softmax is materialised, and only one block of fp32 logits at a time.
  const int64_t R = static_cast<int64_t>(rows.size()), chunk = logprob_chunk_rows(cfg_.vocab_size);
  std::vector<torch::Tensor> parts;
  for (int64_t at = 0; at < R; at += chunk) {
    const int64_t n = std::min(chunk, R - at);
    torch::Tensor lg = logits(h.index_select(0, row_idx.narrow(0, at, n))).to(torch::kFloat);
    parts.push_back(lg.gather(1, target_idx.narrow(0, at, n).unsqueeze(1)).squeeze(1) - torch::logsumexp(lg, -1));
  }
  torch::Tensor picked = parts.empty()       ? torch::zeros({0}, torch::TensorOptions().dtype(torch::kFloat).device(device_))
                         : parts.size() == 1 ? parts[0]
                                             : torch::cat(parts, 0);
  int64_t at = 0;
  for (int64_t n : counts) {
    out.push_back(picked.narrow(0, at, n));
    at += n;
  }
  return out;
}

}  // namespace t2
