// Model::generate: batched prefill of left-padded prompts into one KV cache, then one token per step
// for every unfinished sequence. Finished sequences are dropped from the batch (and the cache), so a
// batch with one long answer does not pay for the short ones.
#include <set>

#include "core/check.h"
#include "workers/model.h"
#include "workers/sampler.h"

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
  KVCache cache(cfg_.num_hidden_layers, B, kv_heads_local_, Lmax + opt.max_new_tokens, cfg_.head_dim, dtype_, device_);

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

  for (int step = 0; step < opt.max_new_tokens; ++step) {
    torch::Tensor lg = logits(last).to(torch::kCPU, torch::kFloat).contiguous();  // [rows, vocab]
    torch::Tensor lp = torch::log_softmax(lg, -1);
    const int64_t rows = lg.size(0), V = lg.size(1);
    std::vector<int64_t> keep;
    std::vector<int64_t> step_ids;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t s = row_seq[static_cast<size_t>(r)];
      Generation& g = out[static_cast<size_t>(s)];
      int32_t tok = samplers[static_cast<size_t>(s)].choose(lg.data_ptr<float>() + r * V, V, opt.temperature, opt.top_p);
      g.ids.push_back(tok);
      g.logprobs.push_back(lp.data_ptr<float>()[r * V + tok]);
      bool done = false;
      if (eos.count(tok)) {
        g.stop_reason = "eos";
        done = true;
      } else if (!opt.stop_strings.empty()) {
        std::string text = detok(g.ids);
        size_t cut = std::string::npos;
        for (const auto& ss : opt.stop_strings) {
          size_t at = ss.empty() ? std::string::npos : text.find(ss);
          if (at != std::string::npos) cut = std::min(cut, at);
        }
        if (cut != std::string::npos) {
          g.text = text.substr(0, cut);
          g.stop_reason = "stop_string";
          done = true;
        }
      }
      if (!done && static_cast<int>(g.ids.size()) < opt.max_new_tokens) {
        keep.push_back(r);
        step_ids.push_back(tok);
      }
    }
    if (keep.empty()) break;
    if (static_cast<int64_t>(keep.size()) < rows) {
      torch::Tensor rows_t = torch::tensor(keep, torch::kLong).to(device_);
      cache.select_rows(rows_t);
      std::vector<int64_t> rs, np;
      for (int64_t r : keep) {
        rs.push_back(row_seq[static_cast<size_t>(r)]);
        np.push_back(next_pos[static_cast<size_t>(r)]);
      }
      row_seq = rs;
      next_pos = np;
    }
    const int64_t n = static_cast<int64_t>(keep.size());
    ForwardInput d;
    d.ids = torch::tensor(step_ids, torch::kLong).view({n, 1});
    d.positions = torch::tensor(next_pos, torch::kLong).view({n, 1});
    d.valid = torch::ones({n, 1}, torch::kBool);
    d.seq = torch::tensor(row_seq, torch::kLong);
    d.cache = &cache;
    for (auto& p : next_pos) ++p;
    last = forward_hidden(d).select(1, 0);
  }

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

}  // namespace t2
