// Model::generate: batched prefill of left-padded prompts into one KV cache, then one token per step
// for every unfinished sequence. Finished sequences are dropped from the batch (and the cache, in
// place), so a batch with one long answer does not pay for the short ones. The cache is kept by the
// model for the next call.
#include <limits>
#include <set>

#include "core/check.h"
#include "workers/model.h"
#include "workers/sampler.h"
#include "workers/stop-strings.h"

namespace t2 {

std::vector<Generation> Model::generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opt,
                                        const Detokenizer& detok) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<Generation> out(prompts.size());
  if (B == 0) return out;
  T2_CHECK_AS(UsageError, opt.max_new_tokens >= 0, "max_new_tokens must be >= 0, got {}", opt.max_new_tokens);
  T2_CHECK_AS(UsageError, opt.top_p > 0 && opt.top_p <= 1, "top_p must be in (0, 1], got {}", opt.top_p);
  T2_CHECK_AS(UsageError, opt.temperature >= 0, "temperature must be >= 0, got {}", opt.temperature);
  T2_CHECK_AS(UsageError, opt.stop_strings.empty() || detok, "stop strings need a detokenizer (a tokenizer)");
  int64_t Lmax = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    T2_CHECK_AS(UsageError, !prompts[b].empty(), "prompt {} is empty: generation needs at least one token", b);
    for (int32_t id : prompts[b])
      T2_CHECK_AS(UsageError, id >= 0 && id < cfg_.vocab_size, "prompt {}: token id {} outside the vocabulary [0, {})",
                  b, id, cfg_.vocab_size);
    Lmax = std::max<int64_t>(Lmax, static_cast<int64_t>(prompts[b].size()));
  }
  const int64_t limit = cfg_.sliding_window > 0 ? std::min(cfg_.sliding_window, cfg_.max_position_embeddings)
                                                 : cfg_.max_position_embeddings;
  T2_CHECK_AS(UsageError, Lmax + opt.max_new_tokens <= limit,
              "longest prompt ({} tokens) + max_new_tokens ({}) exceeds the model's context of {} tokens", Lmax,
              opt.max_new_tokens, limit);
  for (auto& g : out) g.stop_reason = "length";
  if (opt.max_new_tokens == 0) return out;

  std::set<int32_t> eos(opt.eos_ids.begin(), opt.eos_ids.end());
  if (opt.use_config_eos) eos.insert(cfg_.eos_token_ids.begin(), cfg_.eos_token_ids.end());

  torch::NoGradGuard ng;
  std::unique_ptr<KVCache> cache_owner = take_cache(B, Lmax + opt.max_new_tokens);
  KVCache& cache = *cache_owner;

  // Prefill: right-aligned prompts, positions counted from each prompt's first token.
  std::vector<int64_t> ids(static_cast<size_t>(B * Lmax), 0), pos(static_cast<size_t>(B * Lmax), 0);
  std::vector<uint8_t> valid(static_cast<size_t>(B * Lmax), 0);
  std::vector<int64_t> next_pos(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const int64_t pad = Lmax - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) {
      size_t at = static_cast<size_t>(b * Lmax + pad) + j;
      ids[at] = p[j];
      pos[at] = static_cast<int64_t>(j);
      valid[at] = 1;
    }
    next_pos[static_cast<size_t>(b)] = static_cast<int64_t>(p.size());
  }
  ForwardInput in;
  in.ids = torch::tensor(ids, torch::kLong).view({B, Lmax});
  in.positions = torch::tensor(pos, torch::kLong).view({B, Lmax});
  in.valid = torch::tensor(std::vector<int64_t>(valid.begin(), valid.end()), torch::kLong).view({B, Lmax}).to(torch::kBool);
  in.seq = torch::arange(B, torch::kLong);
  in.cache = &cache;
  torch::Tensor last = forward_hidden(in).select(1, Lmax - 1);

  std::vector<int64_t> row_seq(static_cast<size_t>(B));  // batch row -> prompt index
  std::vector<Sampler> samplers;
  for (int64_t b = 0; b < B; ++b) {
    row_seq[static_cast<size_t>(b)] = b;
    samplers.emplace_back(opt.seed, static_cast<uint64_t>(b));
  }

  std::vector<StopStringScanner> stops;
  if (!opt.stop_strings.empty())
    for (int64_t b = 0; b < B; ++b) stops.emplace_back(opt.stop_strings, detok);
  const bool greedy = opt.temperature <= 0;

  for (int step = 0; step < opt.max_new_tokens; ++step) {
    // Per row: the chosen id and log p(id) = logit - logsumexp(logits), without a log-softmax over
    // the vocabulary. Greedy reduces on the device and brings back two numbers per row; sampling
    // brings the logits to the host (the sampler runs on host doubles, the same on every TP rank).
    torch::Tensor lg = logits(last);
    if (lg.scalar_type() != torch::kFloat) lg = lg.to(torch::kFloat);
    const int64_t rows = lg.size(0), V = lg.size(1);
    std::vector<int32_t> chosen(static_cast<size_t>(rows));
    std::vector<float> chosen_lp(static_cast<size_t>(rows));
    if (greedy) {
      // One pass gives the maximum and its first index (argmax's choice, ties to the lowest id); the
      // log-sum-exp reuses that maximum and the logits' own buffer: the operations of
      // torch::logsumexp (max + log Σ exp(x − max), an infinite max taken as 0), so the same bits,
      // without its second max pass, the argmax pass, the gather and a [rows, V] temporary.
      auto [mx, tok] = lg.max(-1, /*keepdim=*/true);
      torch::Tensor shift = mx.masked_fill(mx.abs() == std::numeric_limits<float>::infinity(), 0);
      torch::Tensor lse = lg.sub_(shift).exp_().sum(-1).log_().add_(shift.squeeze(1));
      torch::Tensor lp = mx.squeeze(1) - lse;
      tok = tok.squeeze(1);
      torch::Tensor both = torch::stack({tok.to(torch::kDouble), lp.to(torch::kDouble)}).to(torch::kCPU).contiguous();
      const double* p = both.data_ptr<double>();
      for (int64_t r = 0; r < rows; ++r) {
        chosen[static_cast<size_t>(r)] = static_cast<int32_t>(p[r]);
        chosen_lp[static_cast<size_t>(r)] = static_cast<float>(p[rows + r]);
      }
    } else {
      torch::Tensor lse = torch::logsumexp(lg, -1);
      torch::Tensor host = lg.to(torch::kCPU).contiguous(), lse_host = lse.to(torch::kCPU).contiguous();
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = host.data_ptr<float>() + r * V;
        const int64_t s = row_seq[static_cast<size_t>(r)];
        const int32_t tok = samplers[static_cast<size_t>(s)].choose(row, V, opt.temperature, opt.top_p);
        chosen[static_cast<size_t>(r)] = tok;
        chosen_lp[static_cast<size_t>(r)] = row[tok] - lse_host.data_ptr<float>()[r];
      }
    }
    std::vector<int64_t> alive;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t s = row_seq[static_cast<size_t>(r)];
      Generation& g = out[static_cast<size_t>(s)];
      const int32_t tok = chosen[static_cast<size_t>(r)];
      g.ids.push_back(tok);
      g.logprobs.push_back(chosen_lp[static_cast<size_t>(r)]);
      bool done = false;
      if (eos.count(tok)) {
        g.stop_reason = "eos";
        done = true;
      } else if (!stops.empty() && stops[static_cast<size_t>(s)].push(g.ids)) {
        g.text = stops[static_cast<size_t>(s)].text();
        g.stop_reason = "stop_string";
        done = true;
      }
      if (!done && static_cast<int>(g.ids.size()) < opt.max_new_tokens) alive.push_back(r);
    }
    if (alive.empty()) break;
    if (static_cast<int64_t>(alive.size()) < rows) {
      // finished rows leave the batch; the cache moves at most one row per finished sequence
      std::vector<int64_t> keep = KVCache::compaction_order(alive);
      cache.keep_rows(keep);
      std::vector<int64_t> rs, np;
      std::vector<int32_t> ch;
      for (int64_t r : keep) {
        rs.push_back(row_seq[static_cast<size_t>(r)]);
        np.push_back(next_pos[static_cast<size_t>(r)]);
        ch.push_back(chosen[static_cast<size_t>(r)]);
      }
      row_seq = rs;
      next_pos = np;
      chosen = ch;
    }
    const int64_t n = static_cast<int64_t>(row_seq.size());
    ForwardInput d;
    d.ids = torch::tensor(std::vector<int64_t>(chosen.begin(), chosen.end()), torch::kLong).view({n, 1});
    d.positions = torch::tensor(next_pos, torch::kLong).view({n, 1});
    d.valid = torch::ones({n, 1}, torch::kBool);
    d.seq = torch::tensor(row_seq, torch::kLong);
    d.cache = &cache;
    for (auto& p : next_pos) ++p;
    last = forward_hidden(d).select(1, 0);
  }
  give_back_cache(std::move(cache_owner));

  if (detok) {
    for (auto& g : out) {
      if (g.stop_reason == "stop_string") continue;
      std::vector<int32_t> body = g.ids;
      if (g.stop_reason == "eos" && !body.empty()) body.pop_back();
      g.text = detok(body);
    }
  }
  return out;
}

std::unique_ptr<KVCache> Model::take_cache(int64_t batch, int64_t capacity) {
  std::unique_ptr<KVCache> c;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    c = std::move(spare_cache_);
  }
  if (c && c->matches(cfg_.num_hidden_layers, kv_heads_local_, cfg_.head_dim, dtype_, device_)) {
    c->reset(batch, capacity);
    return c;
  }
  return std::make_unique<KVCache>(cfg_.num_hidden_layers, batch, kv_heads_local_, capacity, cfg_.head_dim, dtype_,
                                   device_);
}

void Model::give_back_cache(std::unique_ptr<KVCache> c) {
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (!spare_cache_ || spare_cache_->storage_elements() < c->storage_elements()) spare_cache_ = std::move(c);
}

}  // namespace t2
