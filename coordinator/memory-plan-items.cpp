// plan_work_items (memory-plan.h): the peak memory of one worker executing each kind of work item,
// term by term as the runtime allocates it (workers/model.cpp, experts/svf-linear.cpp,
// experts/reinforce-step.cpp). tests/coordinator/plan/memory_measure.py checks these numbers against
// the peak resident set of real items on the CPU. The formulas are in docs/runtime.md ("Memory").
#include <algorithm>
#include <fmt/format.h>

#include "coordinator/memory-plan.h"
#include "workers/memory-sizing.h"

namespace t2 {

namespace {

uint64_t u64(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); }

struct Dims {
  int64_t d = 0, hd = 0, heads = 0, kv = 0, inter = 0, vocab = 0, layers = 0;
  int64_t ab = 4, fb = 4;  // activation (= serving) and factor bytes
};

bool adapted(const MemoryPlan& p, const char* name) {
  for (const auto& m : p.adapted)
    if (m.name == name) return true;
  return false;
}

// Bytes one sequence position keeps for backward in one decoder layer (no recomputation).
int64_t saved_bytes_per_token(const MemoryPlan& p, const Dims& x, int64_t seq_len, bool fused) {
  int64_t b = 2 * (4 + x.ab) * x.d;  // two RMSNorms: the fp32 input and the normed output
  const bool qkv_base = !adapted(p, "q_proj") || !adapted(p, "k_proj") || !adapted(p, "v_proj");
  if (qkv_base) b += x.ab * x.d;                              // normed input of the base q/k/v GEMM
  b += x.ab * (2 * (x.heads + x.kv) * x.hd + x.kv * x.hd);    // q, k before and after RoPE; v
  if (!fused) b += x.heads * seq_len * (x.ab == 4 ? 4 : 4 + x.ab);  // softmax(scores) fp32 (+ serving copy)
  if (fused && x.kv < x.heads) b += x.ab * 2 * x.heads * x.hd;  // K, V repeated per query head
  if (!adapted(p, "o_proj")) b += x.ab * x.heads * x.hd;      // attention output into the base o GEMM
  if (!adapted(p, "gate_proj") || !adapted(p, "up_proj")) b += x.ab * x.d;
  b += x.ab * 3 * x.inter;                                    // gate, up, silu(gate)
  if (!adapted(p, "down_proj")) b += x.ab * x.inter;          // input of the base down GEMM
  for (const auto& m : p.adapted) b += x.fb * m.k;            // each SVF layer keeps Vᵀx [k]
  return b;
}

// Peak transient bytes of one layer's forward without autograd over `tokens` positions of `batch`
// sequences of `len` positions attending to `ctx` keys.
int64_t prefill_layer_bytes(const MemoryPlan& p, const Dims& x, int64_t batch, int64_t len, int64_t ctx,
                            bool fused) {
  const int64_t tokens = batch * len;
  // The layer's phases do not overlap: the RMSNorm (fp32 square and normed copy), attention (the
  // residual, normed input, q/k/v and their RoPE copies, the output) and the MLP (residual, normed
  // input, gate, up, silu(gate) and the product).
  const int64_t norm = x.ab * 2 * x.d + 8 * x.d;
  const int64_t attn = x.ab * (2 * x.d + 2 * (x.heads + 2 * x.kv) * x.hd + x.heads * x.hd);
  const int64_t mlp = x.ab * (2 * x.d + 4 * x.inter);
  const int64_t per_token = std::max({norm, attn, mlp});
  // An SVF layer's Vᵀx [k] and its output rows on this rank, in the factors' dtype.
  int64_t adapter = 0;
  for (const auto& m : p.adapted)
    adapter = std::max(adapter, x.fb * (m.k + (m.column_parallel ? m.u_per_rank / std::max<int64_t>(m.k, 1) : m.out)));
  const int64_t scores = fused ? 0 : batch * x.heads * len * ctx * (x.ab == 4 ? 8 : 2 * x.ab + 8);
  return tokens * (per_token + adapter) + scores;
}

PhasePlan finish(const char* name, std::vector<MemoryItem> items, const MemoryPlan& p) {
  PhasePlan ph;
  ph.phase = name;
  for (auto& i : items) ph.total_bytes += i.bytes;
  ph.items = std::move(items);
  ph.budget_bytes = static_cast<uint64_t>(p.settings.gpu_memory_gb * (1.0 - p.settings.headroom_fraction) * 1e9);
  ph.fits = ph.total_bytes <= ph.budget_bytes;
  return ph;
}

}  // namespace

std::vector<PhasePlan> plan_work_items(const MemoryPlan& p) {
  if (!p.valid) return {};
  const ModelShape& s = p.shape;
  const PlanSettings& st = p.settings;
  const int tp = st.tp;
  Dims x;
  x.d = s.hidden;
  x.hd = s.head_dim > 0 ? s.head_dim : s.hidden / s.heads;
  x.heads = s.heads / tp;
  x.kv = s.kv_heads >= tp ? s.kv_heads / tp : 1;
  x.inter = s.intermediate / tp;
  x.vocab = s.vocab;  // logits are gathered over the group: every rank holds the full vocabulary
  x.layers = s.layers;
  x.ab = st.weight_bytes;
  x.fb = st.factor_bytes;
  const bool cpu = st.device == PlanDevice::cpu;
  const int64_t P = st.max_prompt_tokens, N = st.max_new_tokens, L = P + N;

  // Resident in every item: the evaluate phase's weights, factors, z and runtime baseline (work
  // items run the factored form y = U(s ⊙ Vᵀx): no composed W' and no compose workspace).
  std::vector<MemoryItem> resident;
  for (const auto& i : p.evaluate.items) {
    if (i.name.rfind("resident: ", 0) != 0 || i.name.find("compose") != std::string::npos) continue;
    MemoryItem r = i;
    // On the CPU a checkpoint already in the serving dtype is served from the mapped file (workers/
    // model.cpp): its pages become resident when read, and the embedding table is only read at the
    // rows of the tokens looked up (the LM head, read whole, stays counted unless tied).
    if (cpu && r.name == "resident: weights shard" && s.checkpoint_bytes == st.weight_bytes && !s.tied) {
      const int64_t embed = (s.vocab / (s.vocab % tp == 0 ? tp : 1)) * s.hidden * x.ab;
      r.bytes -= u64(embed);
      r.formula += fmt::format(" - {} B embedding table (mapped file, only looked-up rows resident)", embed);
    }
    if (cpu && r.name.find("CUDA") != std::string::npos)
      r = {"resident: process baseline (libraries)", u64(static_cast<int64_t>(st.runtime_overhead_gb * 1e9)),
           fmt::format("{} GB LibTorch, BLAS, MPI, HDF5 before any model", st.runtime_overhead_gb)};
    resident.push_back(r);
  }

  auto generate = [&](const char* what, int64_t batch) {
    std::vector<MemoryItem> v = resident;
    const int64_t kv_bytes = 2 * x.layers * x.kv * x.hd * L * batch * x.ab;
    v.push_back({std::string(what) + ": KV cache", u64(kv_bytes),
                 fmt::format("2 x {} layers x {} kv heads x {} head dim x {} tokens x {} rows x {} B", x.layers, x.kv,
                             x.hd, L, batch, x.ab)});
    v.push_back({std::string(what) + ": prefill (one layer)",
                 u64(prefill_layer_bytes(p, x, batch, P, P, st.fused_attention)),
                 fmt::format("{} rows x {} prompt tokens of one layer's activations{}", batch, P,
                             st.fused_attention ? "" : " + fp32 attention scores")});
    v.push_back({std::string(what) + ": logits of the last position", u64(batch * x.vocab * (x.ab + 8)),
                 fmt::format("{} rows x {} vocab x ({} + 8) B", batch, x.vocab, x.ab)});
    return v;
  };

  std::vector<PhasePlan> out;
  out.push_back(finish("evaluate item", generate("generate", st.eval_batch), p));

  // Gradient item: one forward with autograd over `S` sequences, the log-softmax of every completion
  // position, one backward to z.
  {
    std::vector<MemoryItem> v = resident;
    const int64_t S = st.train_micro_batch, rows = S * N;
    const int64_t per_tok = saved_bytes_per_token(p, x, L, st.fused_attention);
    if (st.recompute == Recompute::layer) {
      // Model::set_layer_recompute: each layer's input; in backward one layer rerun with autograd
      // and its gradients.
      v.push_back({"grad: layer inputs", u64(x.layers * S * L * x.d * x.ab),
                   fmt::format("{} layers x {} sequences x {} tokens x {} hidden x {} B", x.layers, S, L, x.d, x.ab)});
      v.push_back({"grad: one recomputed layer + gradients", u64(2 * S * L * per_tok),
                   fmt::format("2 x {} sequences x {} tokens x {} B/token", S, L, per_tok)});
    } else {
      v.push_back({"grad: saved activations", u64((x.layers + 1) * S * L * per_tok),
                   fmt::format("({} layers + 1 in backward) x {} sequences x {} tokens x {} B/token", x.layers, S, L,
                               per_tok)});
    }
    const int64_t lsm = rows * x.vocab * 4;
    const int64_t chunk = std::min(rows, logprob_chunk_rows(x.vocab));
    v.push_back({"grad: log-softmax, saved blocks, gradient", u64(4 * lsm + chunk * x.vocab * (x.ab + 4)),
                 fmt::format("4 x {} rows x {} vocab x 4 B (result, saved blocks, gradient and its copy) + a block "
                             "of {} rows",
                             rows, x.vocab, chunk)});
    if (st.kl_reference)
      v.push_back({"grad: reference log-softmax and KL terms", u64(4 * lsm),
                   fmt::format("4 x {} rows x {} vocab x 4 B (reference, exp, difference, product)", rows, x.vocab)});
    out.push_back(finish("grad item", std::move(v), p));
  }

  const int64_t cem_rows = st.cem_rows > 0 ? st.cem_rows : st.eval_batch;
  out.push_back(finish("cem item", generate("cem generate", cem_rows), p));
  return out;
}

}  // namespace t2
