#include "experts/mlp-policy.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "core/check.h"
#include "experts/rng.h"
#include "experts/svf-decompose.h"

namespace t2 {

MlpPolicy::MlpPolicy(int64_t vocab, int64_t embed, int64_t width, uint64_t seed) : vocab_(vocab) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto rnd = [&](int64_t r, int64_t c, double scale) { return at::randn({r, c}, gen) * scale; };
  E_ = rnd(vocab, embed, 1.0);
  W_ = {rnd(width, embed, 1.0 / std::sqrt(embed)), rnd(width, width, 1.5 / std::sqrt(width)),
        rnd(vocab, width, 3.0 / std::sqrt(width))};
  for (auto& w : W_) F_.push_back(svf_decompose(w));
  dense_ = W_;
}

void MlpPolicy::adapt_dense(std::vector<torch::Tensor> W) {
  T2_CHECK(W.size() == W_.size(), "adapt_dense: {} matrices for {} layers", W.size(), W_.size());
  for (size_t i = 0; i < W.size(); ++i)
    T2_CHECK(W[i].sizes() == W_[i].sizes(), "adapt_dense: matrix {} has the wrong shape", i);
  adapters_.clear();
  dense_ = std::move(W);
}

ZLayout MlpPolicy::layout() const {
  ZLayout l;
  l.names = {"mlp.0", "mlp.1", "head"};
  for (auto& f : F_) l.sizes.push_back(f.rank());
  return l;
}

void MlpPolicy::adapt_z(const torch::Tensor& z) {
  auto l = layout();
  T2_CHECK(z.dim() == 1 && z.size(0) == l.total(), "z must be [{}], got {} entries", l.total(), z.numel());
  adapters_.clear();
  for (size_t i = 0; i < F_.size(); ++i) {
    adapters_.push_back(std::make_unique<SvfLinearAdapter>(F_[i]));
    adapters_.back()->set_z(z.narrow(0, l.offset(i), l.sizes[i]));
  }
}

void MlpPolicy::adapt_multipliers(const torch::Tensor& m) {
  auto l = layout();
  T2_CHECK(m.size(-1) == l.total(), "multipliers must have {} columns, got {}", l.total(), m.size(-1));
  adapters_.clear();
  for (size_t i = 0; i < F_.size(); ++i) {
    adapters_.push_back(std::make_unique<SvfLinearAdapter>(F_[i]));
    adapters_.back()->set_multipliers(m.narrow(-1, l.offset(i), l.sizes[i]));
  }
}

void MlpPolicy::adapt_base() {
  adapters_.clear();
  dense_ = W_;
}

torch::Tensor MlpPolicy::logits(const torch::Tensor& h0, const torch::Tensor& row_of) {
  auto h = h0;
  for (size_t l = 0; l < W_.size(); ++l) {
    h = adapters_.empty() ? torch::matmul(h, dense_[l].t()) : adapters_[l]->forward(h, W_[l], row_of);
    if (l + 1 < W_.size()) h = torch::tanh(h);
  }
  return h;
}

torch::Tensor MlpPolicy::features(const std::vector<TokenSeq>& seqs, std::vector<int64_t>* row_seq) {
  std::vector<int64_t> ids;
  for (size_t b = 0; b < seqs.size(); ++b)
    for (auto t : seqs[b]) {
      T2_CHECK(t >= 0 && t < vocab_, "token {} outside the vocabulary of {}", t, vocab_);
      ids.push_back(t);
      row_seq->push_back(static_cast<int64_t>(b));
    }
  auto e = E_.index_select(0, torch::tensor(ids, torch::kLong));
  std::vector<torch::Tensor> parts;
  int64_t off = 0;
  for (auto& s : seqs) {
    auto n = static_cast<int64_t>(s.size());
    auto es = e.narrow(0, off, n);
    auto mean = es.cumsum(0) / torch::arange(1, n + 1, torch::kFloat32).unsqueeze(1);
    parts.push_back(es + mean);
    off += n;
  }
  return torch::cat(parts, 0);
}

std::vector<TokenSeq> MlpPolicy::generate(const std::vector<TokenSeq>& prompts, const SampleOptions& opt,
                                          uint64_t seed) {
  torch::NoGradGuard ng;
  const int64_t B = static_cast<int64_t>(prompts.size());
  Rng rng(seed);
  std::vector<TokenSeq> out(B);
  std::vector<bool> done(B, false);
  // Running embedding sums make each step O(B) rows.
  std::vector<int64_t> last(B), count(B);
  auto sums = torch::zeros({B, E_.size(1)});
  for (int64_t b = 0; b < B; ++b) {
    T2_CHECK(!prompts[b].empty(), "prompt {} is empty", b);
    for (auto t : prompts[b]) sums[b] += E_[t];
    last[b] = prompts[b].back();
    count[b] = static_cast<int64_t>(prompts[b].size());
  }
  auto row_of = torch::arange(B);
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    auto h = E_.index_select(0, torch::tensor(last, torch::kLong)) +
             sums / torch::tensor(count, torch::kFloat32).unsqueeze(1);
    auto lg = logits(h, row_of).to(torch::kFloat64);
    bool any = false;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      int64_t tok;
      if (opt.temperature <= 0) {
        tok = lg[b].argmax().item<int64_t>();
      } else {
        auto p = torch::softmax(lg[b] / opt.temperature, 0).contiguous();
        auto pa = p.data_ptr<double>();
        std::vector<int64_t> idx(vocab_);
        for (int64_t i = 0; i < vocab_; ++i) idx[i] = i;
        double mass = 1.0;
        if (opt.top_p < 1.0) {
          std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t c) { return pa[a] > pa[c]; });
          double acc = 0;
          size_t keep = 0;
          while (keep < idx.size() && acc < opt.top_p) acc += pa[idx[keep++]];
          idx.resize(keep);
          mass = acc;
        }
        double u = rng.uniform() * mass, acc = 0;
        tok = idx.back();
        for (auto i : idx) {
          acc += pa[i];
          if (u < acc) {
            tok = i;
            break;
          }
        }
      }
      out[b].push_back(tok);
      sums[b] += E_[tok];
      last[b] = tok;
      count[b] += 1;
      if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), tok) != opt.stop_tokens.end()) done[b] = true;
      any = any || !done[b];
    }
    if (!any) break;
  }
  return out;
}

torch::Tensor MlpPolicy::completion_log_softmax(const std::vector<TokenSeq>& prompts,
                                                const std::vector<TokenSeq>& completions) {
  T2_CHECK(prompts.size() == completions.size(), "{} prompts but {} completions", prompts.size(), completions.size());
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0;
  for (auto& c : completions) T = std::max<int64_t>(T, c.size());
  std::vector<TokenSeq> seqs(B);
  std::vector<int64_t> pick, dest;
  int64_t off = 0;
  for (int64_t b = 0; b < B; ++b) {
    seqs[b] = prompts[b];
    seqs[b].insert(seqs[b].end(), completions[b].begin(), completions[b].end());
    const int64_t P = static_cast<int64_t>(prompts[b].size());
    for (int64_t t = 0; t < static_cast<int64_t>(completions[b].size()); ++t) {
      pick.push_back(off + P - 1 + t);  // the position whose logits predict completion token t
      dest.push_back(b * T + t);
    }
    off += static_cast<int64_t>(seqs[b].size());
  }
  auto out = torch::zeros({B * T, vocab_});
  if (pick.empty()) return out.view({B, T, vocab_});
  std::vector<int64_t> row_seq;
  auto h = features(seqs, &row_seq);
  auto pick_t = torch::tensor(pick, torch::kLong);
  auto rows = h.index_select(0, pick_t);
  auto row_of = torch::tensor(row_seq, torch::kLong).index_select(0, pick_t);
  auto lsm = torch::log_softmax(logits(rows, row_of), -1);
  return out.index_copy(0, torch::tensor(dest, torch::kLong), lsm).view({B, T, vocab_});
}

}  // namespace t2
