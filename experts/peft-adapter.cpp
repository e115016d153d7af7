#include "experts/peft-adapter.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/error.h"
#include "experts/shape.h"
#include "workers/model.h"
#include "workers/tp-collectives.h"

namespace t2 {
namespace {

std::string last_component(const std::string& name) {
  auto p = name.rfind('.');
  return p == std::string::npos ? name : name.substr(p + 1);
}

// "model.layers.12.mlp.up_proj" -> 12; -1 when there is no layer index.
int64_t layer_of(const std::string& name) {
  const std::string key = "layers.";
  auto p = name.find(key);
  if (p == std::string::npos) return -1;
  return std::strtoll(name.c_str() + p + key.size(), nullptr, 10);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Full tensor from this rank's shard along `dim` (0 or the last) of a TP-sharded tensor.
torch::Tensor gather_dim(const torch::Tensor& local, int64_t dim, Communicator* comm) {
  if (comm == nullptr || comm->size() == 1) return local.detach().clone();
  torch::NoGradGuard ng;
  if (dim == local.dim() - 1) return tp_gather_from(local.detach().contiguous(), comm);
  return tp_gather_from(local.detach().t().contiguous(), comm).t().contiguous();
}

}  // namespace

const char* peft_method_name(PeftMethod m) {
  switch (m) {
    case PeftMethod::lora: return "lora";
    case PeftMethod::dora: return "dora";
    case PeftMethod::ia3: return "ia3";
  }
  return "?";
}

PeftMethod parse_peft_method(const std::string& s) {
  if (s == "lora") return PeftMethod::lora;
  if (s == "dora") return PeftMethod::dora;
  if (s == "ia3") return PeftMethod::ia3;
  throw UsageError("unknown parameter-efficient method '" + s + "' (expected lora, ia3 or dora)");
}

double PeftConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

std::vector<std::string> PeftConfig::targets() const {
  if (!target_modules.empty()) return target_modules;
  if (method == PeftMethod::ia3) return {"k_proj", "v_proj", "down_proj"};
  return {"q_proj", "v_proj"};
}

std::vector<std::string> PeftConfig::feedforward() const {
  if (method != PeftMethod::ia3) return {};
  if (!feedforward_modules.empty()) return feedforward_modules;
  return target_modules.empty() || contains(target_modules, "down_proj") ? std::vector<std::string>{"down_proj"}
                                                                          : std::vector<std::string>{};
}

int64_t PeftAdapter::trainable_parameters() const {
  int64_t n = 0;
  for (const auto& [_, f] : lora) n += f.A.numel() + f.B.numel() + (f.dora() ? f.magnitude.numel() : 0);
  for (const auto& [_, v] : ia3) n += v.l.numel();
  return n;
}

bool peft_targets(const PeftConfig& cfg, const std::string& name) {
  if (!contains(cfg.targets(), last_component(name))) return false;
  if (cfg.layers.empty()) return true;
  return std::find(cfg.layers.begin(), cfg.layers.end(), layer_of(name)) != cfg.layers.end();
}

PeftAdapter peft_init(Model& model, const PeftConfig& cfg, uint64_t seed) {
  T2_CHECK_AS(UsageError, cfg.method == PeftMethod::ia3 || cfg.r > 0, "peft r must be positive, got {}", cfg.r);
  T2_CHECK_AS(UsageError, cfg.lora_dropout >= 0 && cfg.lora_dropout < 1, "peft lora_dropout must be in [0, 1), got {}",
              cfg.lora_dropout);
  for (const auto& f : cfg.feedforward())
    T2_CHECK_AS(UsageError, contains(cfg.targets(), f), "IA3 feedforward module '{}' is not among target_modules", f);
  PeftAdapter a;
  a.config = cfg;
  Communicator* comm = model.tp_comm();
  uint64_t k = 0;
  for (const auto& info : model.linear_infos()) {
    if (!peft_targets(cfg, info.name)) continue;
    ++k;
    if (cfg.method == PeftMethod::ia3) {
      const bool ff = contains(cfg.feedforward(), last_component(info.name));
      const std::string mod = last_component(info.name);
      const bool biased = (model.config().qkv_bias && (mod == "q_proj" || mod == "k_proj" || mod == "v_proj")) ||
                          (model.config().o_bias && mod == "o_proj");
      T2_CHECK_AS(UsageError, ff || !biased,
                  "IA3 output scaling of '{}' is refused: the layer has a bias, which PEFT would scale too", info.name);
      a.ia3[info.name] = ia3_init(info.out_features, info.in_features, ff);
      continue;
    }
    auto f = lora_init(info.out_features, info.in_features, cfg.r, cfg.lora_alpha, seed * 1000003ULL + k);
    f.scaling = cfg.scaling();
    if (cfg.method == PeftMethod::dora) {
      torch::NoGradGuard ng;
      auto w = model.weight(info.name).to(torch::kFloat);
      auto sq = w.pow(2).sum(1);
      if (info.kind == LinearKind::row_parallel) f.magnitude = tp_reduce_from(sq.contiguous(), comm).sqrt();
      else if (info.kind == LinearKind::column_parallel) f.magnitude = gather_dim(sq.sqrt(), 0, comm);
      else f.magnitude = sq.sqrt();
    }
    a.lora[info.name] = std::move(f);
  }
  T2_CHECK_AS(UsageError, k > 0, "peft target_modules [{}] match no linear layer of the model",
              fmt::join(cfg.targets(), ", "));
  return a;
}

std::vector<torch::Tensor> PeftAttached::parameters() const {
  std::vector<torch::Tensor> p;
  for (const auto& [_, a] : lora) {
    p.push_back(a->factors().A);
    p.push_back(a->factors().B);
    if (a->factors().dora()) p.push_back(a->factors().magnitude);
  }
  for (const auto& [_, a] : ia3) p.push_back(a->vector().l);
  return p;
}

std::vector<bool> PeftAttached::replicated() const {
  std::vector<bool> r;
  for (const auto& [_, a] : lora) {
    const auto kind = a->info().kind;
    const bool col = kind == LinearKind::column_parallel, row = kind == LinearKind::row_parallel;
    r.push_back(col);
    r.push_back(row);
    if (a->factors().dora()) r.push_back(row);
  }
  for (const auto& [_, a] : ia3) r.push_back(ia3_replicated(a->vector(), a->info().kind));
  return r;
}

PeftAdapter PeftAttached::gather(const Model& model, const PeftConfig& cfg) const {
  PeftAdapter out;
  out.config = cfg;
  Communicator* comm = model.tp_comm();
  for (const auto& [name, a] : lora) {
    const auto& f = a->factors();
    const auto kind = a->info().kind;
    LoraFactors g;
    g.scaling = f.scaling;
    g.A = kind == LinearKind::row_parallel ? gather_dim(f.A, 1, comm) : f.A.detach().clone();
    g.B = kind == LinearKind::column_parallel ? gather_dim(f.B, 0, comm) : f.B.detach().clone();
    if (f.dora())
      g.magnitude = kind == LinearKind::column_parallel ? gather_dim(f.magnitude, 0, comm) : f.magnitude.detach().clone();
    out.lora[name] = std::move(g);
  }
  for (const auto& [name, a] : ia3) {
    const auto& v = a->vector();
    const auto kind = a->info().kind;
    const bool sharded = v.feedforward ? kind == LinearKind::row_parallel : kind == LinearKind::column_parallel;
    Ia3Vector g;
    g.feedforward = v.feedforward;
    g.l = sharded ? gather_dim(v.l, 0, comm) : v.l.detach().clone();
    out.ia3[name] = std::move(g);
  }
  return out;
}

void PeftAttached::set_training(bool training) {
  for (auto& [_, a] : lora) a->set_training(training);
}

PeftAttached peft_attach(Model& model, const PeftAdapter& adapter, bool trainable) {
  PeftAttached out;
  for (const auto& [name, f] : adapter.lora) {
    const auto& info = model.linear_info(name);
    auto shard = lora_shard(f, info);  // own copies: training updates them in place
    shard.A = shard.A.detach().clone();
    shard.B = shard.B.detach().clone();
    if (shard.dora()) shard.magnitude = shard.magnitude.detach().clone();
    auto a = std::make_shared<LoraLinearAdapter>(std::move(shard), info, model.tp_comm());
    a->set_dropout(adapter.config.lora_dropout, false);
    if (trainable) a->set_trainable(true);
    model.set_adapter(name, a);
    out.lora[name] = a;
  }
  for (const auto& [name, v] : adapter.ia3) {
    const auto& info = model.linear_info(name);
    auto shard = ia3_shard(v, info);
    shard.l = shard.l.detach().clone();
    auto a = std::make_shared<Ia3LinearAdapter>(std::move(shard), info);
    if (trainable) a->set_trainable(true);
    model.set_adapter(name, a);
    out.ia3[name] = a;
  }
  return out;
}

}  // namespace t2
