#include "coordinator/memory-plan.h"

#include <algorithm>
#include <fmt/format.h>

#include "core/check.h"
#include "core/names.h"

namespace t2 {

namespace {

constexpr double kGB = 1e9;

int64_t head_dim_of(const ModelShape& s) { return s.head_dim > 0 ? s.head_dim : s.hidden / s.heads; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// KV heads held by one rank: sharded when there are at least tp of them, else replicated
// (tp must then be a multiple of kv_heads, checked by tp_layout_problem).
int64_t kv_heads_per_rank(const ModelShape& s, int tp) { return s.kv_heads >= tp ? s.kv_heads / tp : 1; }

// Elements of the activations one layer keeps per token on one rank (serving dtype): residual and
// normed input, q/k/v, attention output, gate, up and the SwiGLU product. Fused attention assumed
// (no tokens² score matrix).
int64_t layer_activation_elements_per_token(const ModelShape& s, int tp) {
  const int64_t hd = head_dim_of(s);
  return 2 * s.hidden + (s.heads / tp + 2 * kv_heads_per_rank(s, tp)) * hd + (s.heads / tp) * hd +
         3 * (s.intermediate / tp);
}

uint64_t u64(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); }

MemoryItem item(std::string name, uint64_t bytes, std::string formula) {
  return MemoryItem{std::move(name), bytes, std::move(formula)};
}

}  // namespace

int64_t ModelShape::parameter_count() const {
  const int64_t hd = head_dim_of(*this);
  const int64_t per_layer = hidden * heads * hd          // q
                            + 2 * hidden * kv_heads * hd  // k, v
                            + heads * hd * hidden         // o
                            + 3 * hidden * intermediate   // gate, up, down
                            + 2 * hidden;                 // two RMSNorms
  return layers * per_layer + vocab * hidden * (tied ? 1 : 2) + hidden;
}

ModelShape llama3_8b_shape() {
  return ModelShape{"Meta-Llama-3-8B-Instruct", 32, 4096, 14336, 32, 8, 128, 128256, false};
}

ModelShape llama3_70b_shape() {
  return ModelShape{"Meta-Llama-3-70B-Instruct", 80, 8192, 28672, 64, 8, 128, 128256, false};
}

SvfModules parse_svf_modules(const std::string& s) {
  if (s == "mlp") return SvfModules::mlp;
  if (s == "attn") return SvfModules::attn;
  if (s == "attn_qkvo") return SvfModules::attn_qkvo;
  if (s == "all") return SvfModules::all;
  if (s == "all_qkvo") return SvfModules::all_qkvo;
  throw UsageError("unknown SVF modules '" + s + "': " + suggest(s, {"mlp", "attn", "attn_qkvo", "all", "all_qkvo"}));
}

const char* svf_modules_name(SvfModules m) {
  switch (m) {
    case SvfModules::mlp: return "mlp";
    case SvfModules::attn: return "attn";
    case SvfModules::attn_qkvo: return "attn_qkvo";
    case SvfModules::all: return "all";
    case SvfModules::all_qkvo: return "all_qkvo";
  }
  return "?";
}

Recompute parse_recompute(const std::string& s) {
  if (s == "none") return Recompute::none;
  if (s == "layer") return Recompute::layer;
  throw UsageError("unknown recompute setting '" + s + "': " + suggest(s, {"none", "layer"}));
}

const char* recompute_name(Recompute r) { return r == Recompute::none ? "none" : "layer"; }

PlanDevice parse_plan_device(const std::string& s) {
  if (s == "gpu" || s == "cuda" || s.rfind("cuda:", 0) == 0) return PlanDevice::gpu;
  if (s == "cpu") return PlanDevice::cpu;
  throw UsageError("unknown plan device '" + s + "': " + suggest(s, {"gpu", "cuda", "cpu"}));
}

const char* plan_device_name(PlanDevice d) { return d == PlanDevice::cpu ? "cpu" : "gpu"; }

std::string format_gb(uint64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / kGB); }

std::string tp_layout_problem(const ModelShape& s, int tp) {
  if (tp < 1) return fmt::format("tensor-parallel degree must be at least 1, got {}", tp);
  if (s.heads % tp != 0) return fmt::format("tp {} does not divide the {} attention heads", tp, s.heads);
  if (s.kv_heads % tp != 0 && tp % s.kv_heads != 0)
    return fmt::format("tp {} neither divides nor is a multiple of the {} KV heads", tp, s.kv_heads);
  if (s.intermediate % tp != 0)
    return fmt::format("tp {} does not divide the intermediate size {}", tp, s.intermediate);
  return "";
}

std::vector<AdaptedMatrix> adapted_matrices(const ModelShape& s, SvfModules modules, int tp) {
  const int64_t hd = head_dim_of(s);
  struct Kind {
    const char* name;
    int64_t out, in;
    bool column;
    int64_t out_per_rank;  // column-parallel: rows this rank holds
  };
  std::vector<Kind> kinds;
  const bool qkvo = modules == SvfModules::attn_qkvo || modules == SvfModules::all_qkvo;
  if (modules != SvfModules::mlp) {
    const int64_t kv_rank = kv_heads_per_rank(s, tp) * hd;
    kinds.push_back({"q_proj", s.heads * hd, s.hidden, true, s.heads * hd / tp});
    if (qkvo) kinds.push_back({"k_proj", s.kv_heads * hd, s.hidden, true, kv_rank});
    kinds.push_back({"v_proj", s.kv_heads * hd, s.hidden, true, kv_rank});
    if (qkvo) kinds.push_back({"o_proj", s.hidden, s.heads * hd, false, 0});
  }
  if (modules == SvfModules::mlp || modules == SvfModules::all || modules == SvfModules::all_qkvo) {
    kinds.push_back({"gate_proj", s.intermediate, s.hidden, true, s.intermediate / tp});
    kinds.push_back({"up_proj", s.intermediate, s.hidden, true, s.intermediate / tp});
    kinds.push_back({"down_proj", s.hidden, s.intermediate, false, 0});
  }
  std::vector<AdaptedMatrix> out;
  for (const auto& k : kinds) {
    AdaptedMatrix m;
    m.name = k.name;
    m.out = k.out;
    m.in = k.in;
    m.k = std::min(k.out, k.in);
    m.column_parallel = k.column;
    m.u_elements = m.out * m.k;
    m.v_elements = m.in * m.k;
    m.sigma_elements = m.k;
    if (k.column) {  // rows of W' (and of U) are split; V is needed whole
      m.u_per_rank = k.out_per_rank * m.k;
      m.v_per_rank = m.v_elements;
    } else {         // columns of W' (rows of V) are split; U is needed whole
      m.u_per_rank = m.u_elements;
      m.v_per_rank = (m.in / tp) * m.k;
    }
    out.push_back(m);
  }
  return out;
}

MemoryPlan plan_memory(const ModelShape& shape, const PlanSettings& st) {
  MemoryPlan p;
  p.shape = shape;
  if (p.shape.head_dim == 0 && shape.heads > 0) p.shape.head_dim = shape.hidden / shape.heads;
  p.settings = st;
  const ModelShape& s = p.shape;
  T2_CHECK_AS(UsageError, s.layers > 0 && s.hidden > 0 && s.intermediate > 0 && s.heads > 0 && s.kv_heads > 0 &&
                              s.vocab > 0,
              "model shape '{}' has a non-positive dimension", s.name);
  T2_CHECK_AS(UsageError, st.eval_batch > 0 && st.train_micro_batch > 0 && st.max_prompt_tokens > 0 &&
                              st.max_new_tokens >= 0 && st.gpu_memory_gb > 0,
              "plan settings need positive batch sizes, token counts and GPU memory");
  T2_CHECK_AS(UsageError, st.weight_bytes == 2 || st.weight_bytes == 4, "weight bytes must be 2 or 4, got {}",
              st.weight_bytes);
  T2_CHECK_AS(UsageError, st.factor_bytes == 2 || st.factor_bytes == 4, "factor bytes must be 2 or 4, got {}",
              st.factor_bytes);
  p.invalid_reason = tp_layout_problem(s, st.tp);
  p.valid = p.invalid_reason.empty();
  if (!p.valid) return p;

  const int tp = st.tp;
  const int64_t hd = s.head_dim;
  const int64_t wb = st.weight_bytes, fb = st.factor_bytes;
  const int64_t kv_rank = kv_heads_per_rank(s, tp);
  const int64_t vocab_rank = ceil_div(s.vocab, tp);
  const int64_t tokens = st.tokens();

  p.adapted = adapted_matrices(s, st.modules, tp);
  const int64_t La = st.adapted_layers > 0 ? std::min(st.adapted_layers, s.layers) : s.layers;  // with factors
  p.adapted_matrices = La * static_cast<int64_t>(p.adapted.size());
  int64_t factor_elems = 0, z_per_layer = 0, max_shard = 0;
  for (const auto& m : p.adapted) {
    factor_elems += m.u_per_rank + m.v_per_rank + m.sigma_elements;
    z_per_layer += m.k;
    max_shard = std::max(max_shard, m.column_parallel ? (m.u_per_rank / m.k) * m.in : m.out * (m.in / tp));
  }
  p.z_count = La * z_per_layer;

  // Resident on every rank in both phases.
  std::vector<MemoryItem> resident;
  const int64_t layer_w = s.hidden * (s.heads / tp) * hd + 2 * s.hidden * kv_rank * hd + (s.heads / tp) * hd * s.hidden +
                          3 * s.hidden * (s.intermediate / tp) + 2 * s.hidden;
  const int64_t embed_w = vocab_rank * s.hidden * (s.tied ? 1 : 2) + s.hidden;
  resident.push_back(item("weights shard", u64((s.layers * layer_w + embed_w) * wb),
                          fmt::format("({} layers x {} + {} embedding/head/norm) elements x {} B", s.layers, layer_w,
                                      embed_w, wb)));
  resident.push_back(item(fmt::format("SVF factors U/sigma/V ({})", svf_modules_name(st.modules)),
                          u64(La * factor_elems * fb),
                          fmt::format("{} layers x {} elements x {} B", La, factor_elems, fb)));
  resident.push_back(item("compose workspace", u64(max_shard * 4),
                          fmt::format("largest adapted shard {} elements x 4 B (fp32 accumulation)", max_shard)));
  resident.push_back(item("z (fp32, replicated)", u64(p.z_count * 4), fmt::format("{} x 4 B", p.z_count)));
  if (st.device == PlanDevice::cpu)
    resident.push_back(item("process baseline (libraries)", u64(static_cast<int64_t>(st.runtime_overhead_gb * kGB)),
                            fmt::format("{} GB LibTorch, BLAS, MPI, HDF5 before any model", st.runtime_overhead_gb)));
  else
    resident.push_back(item("CUDA/NCCL runtime", u64(static_cast<int64_t>(st.runtime_overhead_gb * kGB)),
                            fmt::format("{} GB context and workspaces", st.runtime_overhead_gb)));

  // Generation of a batch: KV cache for the full length, one layer of prefill activations, logits.
  const int64_t act_tok = layer_activation_elements_per_token(s, tp);
  std::vector<MemoryItem> generate;
  generate.push_back(item("KV cache", u64(2 * s.layers * kv_rank * hd * tokens * st.eval_batch * wb),
                          fmt::format("2 x {} layers x {} kv heads x {} head dim x {} tokens x {} batch x {} B", s.layers,
                                      kv_rank, hd, tokens, st.eval_batch, wb)));
  generate.push_back(item("prefill activations", u64(st.eval_batch * st.max_prompt_tokens * act_tok * wb),
                          fmt::format("{} batch x {} prompt tokens x {} elements/token x {} B", st.eval_batch,
                                      st.max_prompt_tokens, act_tok, wb)));
  generate.push_back(item("logits workspace", u64(st.eval_batch * (vocab_rank * wb + s.vocab * 4)),
                          fmt::format("{} batch x ({} vocab shard x {} B + {} gathered vocab x 4 B)", st.eval_batch,
                                      vocab_rank, wb, s.vocab)));

  // Scoring with a backward pass to z: activations (with recomputation), logits and their gradient,
  // the z-gradient accumulator.
  const int64_t mb = st.train_micro_batch;
  std::vector<MemoryItem> score;
  if (st.recompute == Recompute::layer) {
    score.push_back(item("layer checkpoints", u64(s.layers * mb * tokens * s.hidden * wb),
                         fmt::format("{} layers x {} micro-batch x {} tokens x {} hidden x {} B", s.layers, mb, tokens,
                                     s.hidden, wb)));
    score.push_back(item("recomputed layer + gradients", u64(2 * mb * tokens * act_tok * wb),
                         fmt::format("2 x {} micro-batch x {} tokens x {} elements/token x {} B", mb, tokens, act_tok, wb)));
  } else {
    score.push_back(item("activations (all layers) + gradients", u64((s.layers + 1) * mb * tokens * act_tok * wb),
                         fmt::format("({} layers + 1) x {} micro-batch x {} tokens x {} elements/token x {} B", s.layers,
                                     mb, tokens, act_tok, wb)));
  }
  score.push_back(item("logits + gradient (fp32)", u64(2 * mb * tokens * vocab_rank * 4),
                       fmt::format("2 x {} micro-batch x {} tokens x {} vocab shard x 4 B", mb, tokens, vocab_rank)));
  score.push_back(item("z gradient (fp32)", u64(p.z_count * 4), fmt::format("{} x 4 B", p.z_count)));
  if (!st.adam_on_coordinator)
    score.push_back(item("Adam moments (fp32)", u64(2 * p.z_count * 4), fmt::format("2 x {} x 4 B", p.z_count)));

  const uint64_t budget = static_cast<uint64_t>(st.gpu_memory_gb * (1.0 - st.headroom_fraction) * kGB);
  auto sum = [](const std::vector<MemoryItem>& v) {
    uint64_t t = 0;
    for (const auto& i : v) t += i.bytes;
    return t;
  };
  auto tag = [](std::vector<MemoryItem> v, const char* part) {
    for (auto& i : v) i.name = std::string(part) + ": " + i.name;
    return v;
  };
  auto finish = [&](PhasePlan& ph, const char* name, std::vector<std::vector<MemoryItem>> parts,
                    uint64_t total) {
    ph.phase = name;
    for (auto& part : parts)
      for (auto& i : part) ph.items.push_back(std::move(i));
    ph.total_bytes = total;
    ph.budget_bytes = budget;
    ph.fits = total <= budget;
  };
  const uint64_t r = sum(resident), g = sum(generate), sc = sum(score);
  finish(p.evaluate, "evaluate", {tag(resident, "resident"), tag(generate, "generate")}, r + g);
  // A REINFORCE step generates, then scores: the peaks do not overlap (the KV cache is freed).
  finish(p.train, "train-svf", {tag(resident, "resident"), tag(generate, "generate"), tag(score, "score")},
         r + std::max(g, sc));
  p.work_items = plan_work_items(p);
  return p;
}

MemoryPlan plan_memory_with_alternatives(const ModelShape& shape, const PlanSettings& st) {
  MemoryPlan p = plan_memory(shape, st);
  auto describe = [](const PhasePlan& ph) {
    return fmt::format("needs {} per rank, budget {}", format_gb(ph.total_bytes), format_gb(ph.budget_bytes));
  };
  auto add_misfits = [&](const std::string& setting, const MemoryPlan& alt, bool eval, bool train) {
    if (!alt.valid) {
      p.misfits.push_back({setting, "layout", alt.invalid_reason});
      return;
    }
    if (eval && !alt.evaluate.fits) p.misfits.push_back({setting, "evaluate", describe(alt.evaluate)});
    if (train && !alt.train.fits) p.misfits.push_back({setting, "train-svf", describe(alt.train)});
  };
  if (!p.valid) p.misfits.push_back({fmt::format("tp {}", st.tp), "layout", p.invalid_reason});
  for (int tp : {1, 2, 4, 8, 16}) {
    if (tp == st.tp) continue;
    PlanSettings a = st;
    a.tp = tp;
    add_misfits(fmt::format("tp {}", tp), plan_memory(shape, a), true, true);
  }
  if (!p.valid) return p;
  if (!p.evaluate.fits) add_misfits(fmt::format("tp {}", st.tp), p, true, false);
  if (!p.train.fits) add_misfits(fmt::format("tp {}", st.tp), p, false, true);
  // The smallest doubled batch that no longer fits (larger ones do not either).
  for (int b = st.eval_batch * 2; b <= st.eval_batch * 64; b *= 2) {
    PlanSettings a = st;
    a.eval_batch = b;
    MemoryPlan alt = plan_memory(shape, a);
    if (!alt.evaluate.fits) {
      add_misfits(fmt::format("eval_batch {} at {} tokens", b, st.tokens()), alt, true, false);
      break;
    }
  }
  for (int b = st.train_micro_batch * 2; b <= st.train_micro_batch * 64; b *= 2) {
    PlanSettings a = st;
    a.train_micro_batch = b;
    MemoryPlan alt = plan_memory(shape, a);
    if (!alt.train.fits) {
      add_misfits(fmt::format("train_micro_batch {} at {} tokens", b, st.tokens()), alt, false, true);
      break;
    }
  }
  if (st.factor_bytes == 2) {
    PlanSettings a = st;
    a.factor_bytes = 4;
    add_misfits("fp32 factors", plan_memory(shape, a), true, true);
  }
  for (SvfModules m : {SvfModules::mlp, SvfModules::attn, SvfModules::attn_qkvo, SvfModules::all, SvfModules::all_qkvo}) {
    if (m == st.modules) continue;
    PlanSettings a = st;
    a.modules = m;
    add_misfits(fmt::format("modules {}", svf_modules_name(m)), plan_memory(shape, a), true, true);
  }
  if (st.recompute == Recompute::layer) {
    PlanSettings a = st;
    a.recompute = Recompute::none;
    add_misfits("recompute none", plan_memory(shape, a), false, true);
  }
  return p;
}

nlohmann::json memory_plan_json(const MemoryPlan& p) {
  using nlohmann::json;
  const auto& s = p.shape;
  const auto& st = p.settings;
  json j;
  j["model"] = {{"name", s.name},       {"layers", s.layers},     {"hidden", s.hidden},
                {"intermediate", s.intermediate}, {"heads", s.heads}, {"kv_heads", s.kv_heads},
                {"head_dim", s.head_dim}, {"vocab", s.vocab},     {"tied", s.tied},
                {"parameters", s.parameter_count()}};
  j["settings"] = {{"tp", st.tp},
                   {"gpu_memory_gb", st.gpu_memory_gb},
                   {"headroom_fraction", st.headroom_fraction},
                   {"runtime_overhead_gb", st.runtime_overhead_gb},
                   {"weight_bytes", st.weight_bytes},
                   {"factor_bytes", st.factor_bytes},
                   {"eval_batch", st.eval_batch},
                   {"max_prompt_tokens", st.max_prompt_tokens},
                   {"max_new_tokens", st.max_new_tokens},
                   {"train_micro_batch", st.train_micro_batch},
                   {"modules", svf_modules_name(st.modules)},
                   {"adapted_layers", st.adapted_layers > 0 ? std::min(st.adapted_layers, s.layers) : s.layers},
                   {"recompute", recompute_name(st.recompute)},
                   {"adam_on_coordinator", st.adam_on_coordinator},
                   {"device", plan_device_name(st.device)},
                   {"fused_attention", st.fused_attention},
                   {"cem_rows", st.cem_rows},
                   {"kl_reference", st.kl_reference}};
  j["valid"] = p.valid;
  if (!p.valid) j["invalid_reason"] = p.invalid_reason;
  j["adapted_matrices"] = p.adapted_matrices;
  j["z_count"] = p.z_count;
  json adapted = json::array();
  for (const auto& m : p.adapted)
    adapted.push_back({{"name", m.name},
                       {"out", m.out},
                       {"in", m.in},
                       {"k", m.k},
                       {"parallel", m.column_parallel ? "column" : "row"},
                       {"u_elements", m.u_elements},
                       {"v_elements", m.v_elements},
                       {"sigma_elements", m.sigma_elements},
                       {"u_per_rank", m.u_per_rank},
                       {"v_per_rank", m.v_per_rank}});
  j["adapted_per_layer"] = adapted;
  for (const PhasePlan* ph : {&p.evaluate, &p.train}) {
    if (!p.valid) break;
    json items = json::array();
    for (const auto& i : ph->items) items.push_back({{"name", i.name}, {"bytes", i.bytes}, {"formula", i.formula}});
    j["phases"][ph->phase] = {{"items", items},
                              {"total_bytes", ph->total_bytes},
                              {"budget_bytes", ph->budget_bytes},
                              {"fits", ph->fits}};
  }
  for (const auto& ph : p.work_items) {
    json items = json::array();
    for (const auto& i : ph.items) items.push_back({{"name", i.name}, {"bytes", i.bytes}, {"formula", i.formula}});
    j["work_items"][ph.phase] = {{"items", items},
                                 {"total_bytes", ph.total_bytes},
                                 {"budget_bytes", ph.budget_bytes},
                                 {"fits", ph.fits}};
  }
  json mis = json::array();
  for (const auto& m : p.misfits) mis.push_back({{"setting", m.setting}, {"phase", m.phase}, {"reason", m.reason}});
  j["does_not_fit"] = mis;
  return j;
}

std::string memory_plan_text(const MemoryPlan& p) {
  const auto& s = p.shape;
  const auto& st = p.settings;
  std::string out = fmt::format(
      "model {}: {} layers, hidden {}, intermediate {}, {} heads ({} KV, head dim {}), vocab {}, {:.2f} B "
      "parameters\n",
      s.name, s.layers, s.hidden, s.intermediate, s.heads, s.kv_heads, s.head_dim, s.vocab,
      static_cast<double>(s.parameter_count()) / 1e9);
  out += fmt::format(
      "settings: tp {}, {} GB per GPU ({:.0f}% headroom), weights {} B, factors {} B, eval batch {}, {} + {} "
      "tokens, train micro-batch {}, modules {}{}, recompute {}, device {}\n",
      st.tp, st.gpu_memory_gb, st.headroom_fraction * 100, st.weight_bytes, st.factor_bytes, st.eval_batch,
      st.max_prompt_tokens, st.max_new_tokens, st.train_micro_batch, svf_modules_name(st.modules),
      st.adapted_layers > 0 && st.adapted_layers < s.layers ? fmt::format(" in {} of {} layers", st.adapted_layers, s.layers)
                                                            : std::string(),
      recompute_name(st.recompute), plan_device_name(st.device));
  if (!p.valid) {
    out += "layout: INVALID: " + p.invalid_reason + "\n";
  } else {
    out += fmt::format("SVF: {} adapted matrices, {} z parameters\n", p.adapted_matrices, p.z_count);
    for (const PhasePlan* ph : {&p.evaluate, &p.train}) {
      out += fmt::format("\n{} (bytes per rank):\n", ph->phase);
      for (const auto& i : ph->items) out += fmt::format("  {:<44} {:>12}\n", i.name, format_gb(i.bytes));
      if (ph == &p.train) out += "  (generate and score do not overlap: total = resident + the larger of the two)\n";
      out += fmt::format("  {:<44} {:>12}  of {}  -> {}\n", "total", format_gb(ph->total_bytes),
                         format_gb(ph->budget_bytes), ph->fits ? "FITS" : "DOES NOT FIT");
    }
    out += fmt::format("\nwork items on one {} worker as the runtime runs them (peak bytes per rank):\n",
                       plan_device_name(st.device));
    for (const auto& ph : p.work_items) {
      std::string parts;
      for (const auto& i : ph.items)
        if (i.name.rfind("resident: ", 0) != 0) parts += fmt::format("; {} {}", i.name, format_gb(i.bytes));
      out += fmt::format("  {:<16} {:>12}{}\n", ph.phase, format_gb(ph.total_bytes), parts);
    }
  }
  if (!p.misfits.empty()) {
    out += "\nsettings that do not fit:\n";
    for (const auto& m : p.misfits) out += fmt::format("  {:<36} {:<10} {}\n", m.setting, m.phase, m.reason);
  }
  return out;
}

}  // namespace t2
