#include "workers/tiny-pretrain.h"

#include <torch/torch.h>

#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cmath>
#include <map>

#include "core/check.h"

namespace t2 {

namespace {

struct TinyLayer {
  torch::Tensor input_norm, post_norm, q, k, v, o, gate, up, down;
};

struct TinyNet {
  ModelConfig cfg;
  torch::Tensor embed, final_norm, lm_head;
  std::vector<TinyLayer> layers;
  torch::Tensor inv_freq;  // [head_dim/2] float64

  std::vector<std::pair<std::string, torch::Tensor>> named() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    out.push_back({"model.embed_tokens.weight", embed});
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      const TinyLayer& L = layers[i];
      out.push_back({p + "input_layernorm.weight", L.input_norm});
      out.push_back({p + "self_attn.q_proj.weight", L.q});
      out.push_back({p + "self_attn.k_proj.weight", L.k});
      out.push_back({p + "self_attn.v_proj.weight", L.v});
      out.push_back({p + "self_attn.o_proj.weight", L.o});
      out.push_back({p + "post_attention_layernorm.weight", L.post_norm});
      out.push_back({p + "mlp.gate_proj.weight", L.gate});
      out.push_back({p + "mlp.up_proj.weight", L.up});
      out.push_back({p + "mlp.down_proj.weight", L.down});
    }
    out.push_back({"model.norm.weight", final_norm});
    out.push_back({"lm_head.weight", lm_head});
    return out;
  }

  torch::Tensor rms(const torch::Tensor& x, const torch::Tensor& w) const {
    return w * (x * torch::rsqrt(x.pow(2).mean(-1, true) + cfg.rms_norm_eps));
  }

  // Rotary embedding of x [.., T, D] at positions first .. first+T-1.
  torch::Tensor rope(const torch::Tensor& x, int64_t first) const {
    const int64_t T = x.size(-2), h = cfg.head_dim / 2;
    torch::Tensor ang = torch::arange(first, first + T, torch::kDouble).unsqueeze(1) * inv_freq.unsqueeze(0);
    torch::Tensor cos = ang.cos().to(torch::kFloat), sin = ang.sin().to(torch::kFloat);
    torch::Tensor x1 = x.narrow(-1, 0, h), x2 = x.narrow(-1, h, h);
    return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
  }

  // Summed cross-entropy of `targets` [N] predicted at rows `rows` [N] of the flattened [B*S] suffix
  // positions, for suffixes ids [B, S] (right-padded) that all follow `prefix` [P] (P may be 0). The
  // prefix runs once; every suffix attends to its keys and values, then causally to itself.
  torch::Tensor loss_sum(const torch::Tensor& prefix, const torch::Tensor& ids, const torch::Tensor& rows,
                         const torch::Tensor& targets) const {
    const int64_t B = ids.size(0), S = ids.size(1), P = prefix.size(0), D = cfg.head_dim,
                  H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, G = H / KV;
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    torch::Tensor future_s = torch::ones({S, S}, torch::kBool).triu(1);
    torch::Tensor future_p = torch::ones({P, P}, torch::kBool).triu(1);
    auto heads = [&](const torch::Tensor& h, const torch::Tensor& w, int64_t n, int64_t first) {
      torch::Tensor t = rope(torch::matmul(h, w.t()).view({h.size(0), h.size(1), n, D}).transpose(1, 2), first);
      return G > 1 && n == KV ? t.repeat_interleave(G, 1) : t;
    };
    auto values = [&](const torch::Tensor& h, const torch::Tensor& w) {
      torch::Tensor t = torch::matmul(h, w.t()).view({h.size(0), h.size(1), KV, D}).transpose(1, 2);
      return G > 1 ? t.repeat_interleave(G, 1) : t;
    };
    auto mlp = [&](const TinyLayer& L, const torch::Tensor& x) {
      torch::Tensor h = rms(x, L.post_norm);
      return torch::matmul(torch::silu(torch::matmul(h, L.gate.t())) * torch::matmul(h, L.up.t()), L.down.t());
    };
    torch::Tensor xs = torch::embedding(embed, ids);                    // [B, S, d]
    torch::Tensor xp = torch::embedding(embed, prefix).unsqueeze(0);    // [1, P, d]
    for (const auto& L : layers) {
      torch::Tensor hs = rms(xs, L.input_norm);
      torch::Tensor qs = heads(hs, L.q, H, P), ks = heads(hs, L.k, KV, P), vs = values(hs, L.v);
      torch::Tensor ss = torch::matmul(qs, ks.transpose(-1, -2)).mul(scale).masked_fill(future_s, -1e30);
      torch::Tensor as;
      if (P > 0) {
        torch::Tensor hp = rms(xp, L.input_norm);
        torch::Tensor qp = heads(hp, L.q, H, 0), kp = heads(hp, L.k, KV, 0), vp = values(hp, L.v);
        torch::Tensor sp = torch::matmul(qs, kp.transpose(-1, -2)).mul(scale);  // [B, H, S, P]
        torch::Tensor pr = torch::softmax(torch::cat({sp, ss}, -1), -1);
        as = torch::matmul(pr.narrow(-1, 0, P), vp) + torch::matmul(pr.narrow(-1, P, S), vs);
        torch::Tensor spp = torch::matmul(qp, kp.transpose(-1, -2)).mul(scale).masked_fill(future_p, -1e30);
        torch::Tensor ap = torch::matmul(torch::softmax(spp, -1), vp).transpose(1, 2).reshape({1, P, H * D});
        xp = xp + torch::matmul(ap, L.o.t());
        xp = xp + mlp(L, xp);
      } else {
        as = torch::matmul(torch::softmax(ss, -1), vs);
      }
      xs = xs + torch::matmul(as.transpose(1, 2).reshape({B, S, H * D}), L.o.t());
      xs = xs + mlp(L, xs);
    }
    torch::Tensor h = rms(xs, final_norm).reshape({B * S, cfg.hidden_size}).index_select(0, rows);
    torch::Tensor logits = torch::matmul(h, lm_head.t());
    return torch::nn::functional::cross_entropy(
        logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  }
};

torch::Tensor normal(std::vector<int64_t> shape, double std) { return torch::randn(shape) * std; }

TinyNet init_net(const ModelConfig& c, const PretrainOptions& opt) {
  torch::manual_seed(opt.seed);
  TinyNet n;
  n.cfg = c;
  const int64_t d = c.hidden_size, L = c.num_hidden_layers;
  const double s = opt.init_std, so = opt.init_std / std::sqrt(2.0 * static_cast<double>(L));
  n.embed = normal({c.vocab_size, d}, s);
  for (int64_t i = 0; i < L; ++i) {
    TinyLayer l;
    l.input_norm = torch::ones({d});
    l.post_norm = torch::ones({d});
    l.q = normal({c.q_size(), d}, s);
    l.k = normal({c.kv_size(), d}, s);
    l.v = normal({c.kv_size(), d}, s);
    l.o = normal({d, c.q_size()}, so);
    l.gate = normal({c.intermediate_size, d}, s);
    l.up = normal({c.intermediate_size, d}, s);
    l.down = normal({d, c.intermediate_size}, so);
    n.layers.push_back(l);
  }
  n.final_norm = torch::ones({d});
  n.lm_head = normal({c.vocab_size, d}, s);
  for (auto& [name, t] : n.named()) t.set_requires_grad(true);
  std::vector<double> f = c.rope_inv_freq();
  n.inv_freq = torch::tensor(f, torch::TensorOptions().dtype(torch::kDouble));
  return n;
}

// Restores the intra-op thread count on scope exit.
struct ThreadGuard {
  int saved;
  explicit ThreadGuard(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadGuard() { at::set_num_threads(saved); }
};

}  // namespace

PretrainResult tiny_pretrain(const ModelConfig& cfg, const PretrainBatchFn& batch, const PretrainOptions& opt,
                             const PretrainProgressFn& progress) {
  T2_CHECK_AS(UsageError, cfg.hidden_size > 0 && cfg.num_hidden_layers > 0 && cfg.num_attention_heads > 0 &&
                              cfg.num_key_value_heads > 0 && cfg.num_attention_heads % cfg.num_key_value_heads == 0 &&
                              cfg.head_dim > 0 && cfg.head_dim % 2 == 0 && cfg.intermediate_size > 0 &&
                              cfg.vocab_size > 0,
              "tiny_pretrain: invalid model shape");
  T2_CHECK_AS(UsageError, !cfg.tie_word_embeddings && !cfg.qkv_bias && !cfg.o_bias,
              "tiny_pretrain: only untied, bias-free Llama models");
  T2_CHECK_AS(UsageError, opt.steps >= 1 && opt.threads >= 1, "tiny_pretrain: steps and threads must be >= 1");
  ThreadGuard threads(opt.threads);
#if defined(__GLIBC__)
  // Every step allocates and frees the same few MB of activations: keep them on the heap instead of
  // mapping and unmapping them each time (halves the time on small models; process-wide, harmless).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  TinyNet net = init_net(cfg, opt);

  std::vector<torch::Tensor> decay, no_decay;
  for (auto& [name, t] : net.named()) (t.dim() == 2 && name != "model.embed_tokens.weight" ? decay : no_decay).push_back(t);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto o1 = std::make_unique<torch::optim::AdamWOptions>(opt.lr);
  o1->betas({opt.beta1, opt.beta2}).weight_decay(opt.weight_decay);
  auto o2 = std::make_unique<torch::optim::AdamWOptions>(opt.lr);
  o2->betas({opt.beta1, opt.beta2}).weight_decay(0.0);
  groups.emplace_back(decay, std::move(o1));
  groups.emplace_back(no_decay, std::move(o2));
  torch::optim::AdamW adam(groups, torch::optim::AdamWOptions(opt.lr));

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
  int64_t total = opt.steps;
  double loss_sum = 0, last_loss = 0;
  int64_t loss_n = 0, step = 0;
  for (; step < total; ++step) {
    if (opt.train_seconds > 0 && step == 10)
      total = std::max<int64_t>(20, static_cast<int64_t>(opt.train_seconds / (seconds() / 10.0)));
    const int64_t warm = std::min(opt.warmup, std::max<int64_t>(1, total / 10));
    double lr;
    if (step < warm) {
      lr = opt.lr * static_cast<double>(step + 1) / static_cast<double>(warm);
    } else {
      double p = static_cast<double>(step - warm) / static_cast<double>(std::max<int64_t>(1, total - warm));
      lr = opt.lr * (opt.min_lr_ratio + (1 - opt.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, p))));
    }
    for (auto& g : adam.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

    PretrainBatch pb = batch(step);
    T2_CHECK(!pb.sequences.empty(), "tiny_pretrain: empty batch at step {}", step);
    // one forward per prefix group
    std::map<int32_t, std::vector<const PretrainSequence*>> groups_of;
    for (const auto& s : pb.sequences) {
      T2_CHECK(s.prefix >= -1 && s.prefix < static_cast<int32_t>(pb.prefixes.size()),
               "tiny_pretrain: sequence names prefix {} of {}", s.prefix, pb.prefixes.size());
      T2_CHECK(s.loss_from >= 1, "tiny_pretrain: loss_from must be >= 1");
      groups_of[s.prefix].push_back(&s);
    }
    auto check_ids = [&](const std::vector<int32_t>& v) {
      for (int32_t id : v)
        T2_CHECK(id >= 0 && id < cfg.vocab_size, "tiny_pretrain: token id {} outside the vocabulary", id);
    };
    torch::Tensor loss_total = torch::zeros({});
    int64_t n_targets = 0;
    for (const auto& [pi, seqs] : groups_of) {
      std::vector<int64_t> pre;
      if (pi >= 0) {
        check_ids(pb.prefixes[static_cast<size_t>(pi)]);
        pre.assign(pb.prefixes[static_cast<size_t>(pi)].begin(), pb.prefixes[static_cast<size_t>(pi)].end());
      }
      int64_t S = 0;
      for (const auto* s : seqs) S = std::max<int64_t>(S, static_cast<int64_t>(s->ids.size()));
      const int64_t B = static_cast<int64_t>(seqs.size());
      std::vector<int64_t> ids(static_cast<size_t>(B * S), 0), rows, tgt;
      for (int64_t b = 0; b < B; ++b) {
        const auto& s = *seqs[static_cast<size_t>(b)];
        check_ids(s.ids);
        for (size_t j = 0; j < s.ids.size(); ++j) {
          ids[static_cast<size_t>(b * S) + j] = s.ids[j];
          if (j + 1 < s.ids.size() && static_cast<int64_t>(j + 1) >= s.loss_from) {  // position j predicts j+1
            rows.push_back(b * S + static_cast<int64_t>(j));
            tgt.push_back(s.ids[j + 1]);
          }
        }
      }
      if (rows.empty()) continue;
      n_targets += static_cast<int64_t>(rows.size());
      loss_total = loss_total + net.loss_sum(torch::tensor(pre, torch::kLong), torch::tensor(ids, torch::kLong).view({B, S}),
                                             torch::tensor(rows, torch::kLong), torch::tensor(tgt, torch::kLong));
    }
    T2_CHECK(n_targets > 0, "tiny_pretrain: no target token in the batch of step {}", step);
    torch::Tensor loss = loss_total / static_cast<double>(n_targets);
    adam.zero_grad();
    loss.backward();
    if (opt.clip > 0) {
      std::vector<torch::Tensor> params;
      for (auto& [name, t] : net.named()) params.push_back(t);
      torch::nn::utils::clip_grad_norm_(params, opt.clip);
    }
    adam.step();
    last_loss = loss.item<double>();
    loss_sum += last_loss;
    ++loss_n;
    if (progress && ((step + 1) % std::max<int64_t>(1, opt.log_every) == 0 || step + 1 == total)) {
      progress({step + 1, total, loss_sum / static_cast<double>(loss_n), lr, seconds()});
      loss_sum = 0;
      loss_n = 0;
    }
  }

  PretrainResult r;
  r.steps = step;
  r.seconds = seconds();
  r.final_loss = last_loss;
  for (auto& [name, t] : net.named()) {
    torch::Tensor c = t.detach().contiguous();
    NamedTensor nt;
    nt.name = name;
    nt.shape = c.sizes().vec();
    nt.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    r.weights.push_back(std::move(nt));
  }
  return r;
}

}  // namespace t2
