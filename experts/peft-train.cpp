#include "experts/peft-train.h"

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/error.h"
#include "experts/state-bytes.h"
#include "workers/model.h"
#include "workers/tp-collectives.h"

namespace t2 {
namespace {

// How one trainable tensor of this rank relates to the full one: sharded along `dim` (its
// [offset, offset + local) slice) or, dim -1, replicated.
struct ShardOf {
  std::vector<int64_t> full;
  int64_t dim = -1, offset = 0, local = 0;
};

ShardOf shard_along(std::vector<int64_t> full, int64_t dim, int64_t features, int64_t offset, int64_t local) {
  ShardOf s;
  s.full = std::move(full);
  if (local != features) {
    s.dim = dim;
    s.offset = offset;
    s.local = local;
  }
  return s;
}

// parameters() order (peft-adapter.cpp): per LoRA module A [r, in], B [out, r], DoRA m [out]; then IA3 l.
std::vector<ShardOf> shards_of(const PeftAttached& a) {
  std::vector<ShardOf> out;
  for (const auto& [_, l] : a.lora) {
    const auto& i = l->info();
    const int64_t r = l->factors().A.size(0);
    out.push_back(shard_along({r, i.in_features}, 1, i.in_features, i.in_offset, i.in_local));
    out.push_back(shard_along({i.out_features, r}, 0, i.out_features, i.out_offset, i.out_local));
    if (l->factors().dora()) out.push_back(shard_along({i.out_features}, 0, i.out_features, i.out_offset, i.out_local));
  }
  for (const auto& [_, v] : a.ia3) {
    const auto& i = v->info();
    out.push_back(v->vector().feedforward ? shard_along({i.in_features}, 0, i.in_features, i.in_offset, i.in_local)
                                          : shard_along({i.out_features}, 0, i.out_features, i.out_offset, i.out_local));
  }
  return out;
}

int64_t numel_of(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (auto s : sizes) n *= s;
  return n;
}

}  // namespace

PeftObjective parse_peft_objective(const std::string& s) {
  if (s == "next_token") return PeftObjective::next_token;
  if (s == "policy_gradient") return PeftObjective::policy_gradient;
  throw UsageError("unknown training objective '" + s + "' (expected next_token or policy_gradient)");
}

PeftTrainer::PeftTrainer(Model& model, PeftAdapter init, PeftObjective objective, OptimizerConfig opt, uint64_t seed)
    : model_(model), config_(init.config), objective_(objective), opt_(opt), seed_(seed) {
  optimizer_validate(opt_);
  model_.clear_adapters();
  attached_ = peft_attach(model_, init, /*trainable=*/true);
  const auto n = static_cast<size_t>(num_parameters());
  state_.m.assign(n, 0.f);
  state_.v.assign(n, 0.f);
}

PeftTrainer::~PeftTrainer() { model_.clear_adapters(); }

int64_t PeftTrainer::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : attached_.parameters()) n += p.numel();
  return n;
}

int64_t PeftTrainer::batch_count(const std::vector<PeftExample>& batch, PeftObjective objective) {
  if (objective == PeftObjective::policy_gradient) return static_cast<int64_t>(batch.size());
  int64_t n = 0;
  for (const auto& e : batch) n += static_cast<int64_t>(e.target.size());
  return n;
}

PeftShardGrad PeftTrainer::grad(const std::vector<PeftExample>& shard, int64_t batch_count, int shard_index) {
  T2_CHECK(batch_count > 0, "PEFT step over an empty batch");
  PeftShardGrad out;
  auto params = attached_.parameters();
  for (auto& p : params)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  if (!shard.empty()) {
    std::vector<std::vector<int32_t>> prompts, targets;
    for (const auto& e : shard) {
      prompts.push_back(e.prompt);
      targets.push_back(e.target);
    }
    torch::manual_seed(seed_ * 1000003ULL + static_cast<uint64_t>(state_.t) * 1009ULL + static_cast<uint64_t>(shard_index));
    attached_.set_training(true);
    torch::Tensor loss;
    {
      torch::AutoGradMode on(true);
      auto lp = model_.score(prompts, targets, /*grad=*/true);
      loss = torch::zeros({}, torch::kFloat64);
      for (size_t b = 0; b < lp.size(); ++b) {
        if (lp[b].numel() == 0) continue;
        if (objective_ == PeftObjective::next_token)
          loss = loss - lp[b].to(torch::kFloat64).sum();
        else
          loss = loss - shard[b].advantage * lp[b].to(torch::kFloat64).mean();
      }
      loss = loss / static_cast<double>(batch_count);
      loss.backward();
    }
    attached_.set_training(false);
    out.loss = loss.item<double>();
  }
  auto repl = attached_.replicated();
  out.grad.reserve(static_cast<size_t>(num_parameters()));
  for (size_t i = 0; i < params.size(); ++i) {
    auto g = params[i].grad().defined() ? params[i].grad().detach() : torch::zeros_like(params[i]);
    if (repl[i]) g = tp_reduce_from(g.to(torch::kFloat).contiguous(), model_.tp_comm());
    auto c = g.to(torch::kFloat).contiguous().cpu();
    out.grad.insert(out.grad.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  return out;
}

std::vector<float> PeftTrainer::flat_parameters() const {
  std::vector<float> flat;
  for (const auto& p : attached_.parameters()) {
    auto c = p.detach().to(torch::kFloat).contiguous().cpu();
    flat.insert(flat.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return flat;
}

void PeftTrainer::set_flat(const std::vector<float>& flat) {
  T2_CHECK(static_cast<int64_t>(flat.size()) == num_parameters(), "PEFT state has {} values, the adapter {}",
           flat.size(), num_parameters());
  torch::NoGradGuard ng;
  size_t off = 0;
  for (auto& p : attached_.parameters()) {
    auto src = torch::from_blob(const_cast<float*>(flat.data() + off), p.sizes(), torch::kFloat);
    p.copy_(src);
    off += static_cast<size_t>(p.numel());
  }
}

void PeftTrainer::set_parameters(const std::vector<float>& flat, int64_t step) {
  set_flat(flat);
  state_.t = step;
}

OptimizerStepInfo PeftTrainer::apply(const std::vector<float>& grad) {
  auto flat = flat_parameters();
  T2_CHECK(grad.size() == flat.size(), "PEFT gradient has {} values, the adapter {}", grad.size(), flat.size());
  Communicator* comm = model_.tp_comm();
  if (comm == nullptr || comm->size() == 1) {
    auto info = optimizer_step(opt_, state_, flat, grad);
    set_flat(flat);
    return info;
  }
  // Under TP each rank holds its shards plus the replicated factors: the global norm is the TP sum of
  // the sharded parts' squares plus the replicated parts' squares once. Clipping to it here leaves
  // the optimizer's own clipping (of the local norm, never larger) a no-op, so every rank scales alike.
  double sharded = 0, replicated = 0;
  size_t off = 0;
  auto params = attached_.parameters();
  auto repl = attached_.replicated();
  for (size_t i = 0; i < params.size(); ++i) {
    double s2 = 0;
    for (int64_t k = 0; k < params[i].numel(); ++k) s2 += static_cast<double>(grad[off + k]) * grad[off + k];
    (repl[i] ? replicated : sharded) += s2;
    off += static_cast<size_t>(params[i].numel());
  }
  auto t = tp_reduce_from(torch::tensor({sharded}, torch::kFloat64), comm);
  const double norm = std::sqrt(t.item<double>() + replicated);
  std::vector<float> g = grad;
  if (opt_.clip_norm > 0 && norm > opt_.clip_norm) {
    const double scale = opt_.clip_norm / (norm + 1e-6);
    for (auto& v : g) v = static_cast<float>(v * scale);
  }
  auto info = optimizer_step(opt_, state_, flat, std::move(g));
  info.grad_norm = norm;
  set_flat(flat);
  return info;
}

double PeftTrainer::train_step(const std::vector<PeftExample>& batch) {
  auto g = grad(batch, batch_count(batch, objective_), 0);
  apply(g.grad);
  return g.loss;
}

double PeftTrainer::eval_loss(const std::vector<PeftExample>& examples) {
  torch::NoGradGuard ng;
  attached_.set_training(false);
  std::vector<std::vector<int32_t>> prompts, targets;
  for (const auto& e : examples) {
    prompts.push_back(e.prompt);
    targets.push_back(e.target);
  }
  auto lp = model_.score(prompts, targets, false);
  double s = 0;
  int64_t n = 0;
  for (const auto& t : lp) {
    s -= t.to(torch::kFloat64).sum().item<double>();
    n += t.numel();
  }
  return n > 0 ? s / static_cast<double>(n) : 0.0;
}

std::string PeftTrainer::state_bytes() const {
  ByteWriter w;
  w.str("t2-peft-train-v1");
  w.str(peft_method_name(config_.method));
  w.f32s(flat_parameters());
  w.f32s(state_.m);
  w.f32s(state_.v);
  w.i64(state_.t);
  return w.take();
}

void PeftTrainer::load_state(const std::string& bytes) {
  ByteReader r(bytes, "PEFT training state");
  T2_CHECK_AS(FormatError, r.str() == "t2-peft-train-v1", "not a PEFT training state");
  const std::string method = r.str();
  T2_CHECK_AS(FormatError, method == peft_method_name(config_.method), "PEFT training state of method {}, the trainer is {}",
              method, peft_method_name(config_.method));
  auto flat = r.f32s();
  set_flat(flat);
  state_.m = r.f32s();
  state_.v = r.f32s();
  state_.t = r.i64();
}

PeftAdapter PeftTrainer::adapter() const { return attached_.gather(model_, config_); }

int64_t PeftTrainer::num_full_parameters() const {
  int64_t n = 0;
  for (const auto& s : shards_of(attached_)) n += numel_of(s.full);
  return n;
}

std::vector<float> PeftTrainer::full_parameters() const { return full_grad(flat_parameters()); }

void PeftTrainer::set_full_parameters(const std::vector<float>& full, int64_t step) {
  T2_CHECK(static_cast<int64_t>(full.size()) == num_full_parameters(), "PEFT values: {} for an adapter of {}",
           full.size(), num_full_parameters());
  std::vector<float> local;
  local.reserve(static_cast<size_t>(num_parameters()));
  size_t off = 0;
  for (const auto& s : shards_of(attached_)) {
    auto t = torch::from_blob(const_cast<float*>(full.data() + off), s.full, torch::kFloat);
    if (s.dim >= 0) t = t.narrow(s.dim, s.offset, s.local);
    t = t.contiguous();
    local.insert(local.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    off += static_cast<size_t>(numel_of(s.full));
  }
  set_parameters(local, step);
}

std::vector<float> PeftTrainer::full_grad(const std::vector<float>& local) const {
  T2_CHECK(static_cast<int64_t>(local.size()) == num_parameters(), "PEFT gradient has {} values, the adapter {}",
           local.size(), num_parameters());
  Communicator* comm = model_.tp_comm();
  auto params = attached_.parameters();
  auto shards = shards_of(attached_);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(num_full_parameters()));
  size_t off = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto t = torch::from_blob(const_cast<float*>(local.data() + off), params[i].sizes(), torch::kFloat).clone();
    off += static_cast<size_t>(params[i].numel());
    const auto& s = shards[i];
    if (s.dim >= 0) {  // every rank's slice, in rank order (the layout lora_shard / ia3_shard cut)
      torch::NoGradGuard ng;
      t = s.dim == t.dim() - 1 ? tp_gather_from(t.contiguous(), comm)
                               : tp_gather_from(t.t().contiguous(), comm).t().contiguous();
    }
    T2_CHECK(t.numel() == numel_of(s.full), "PEFT parameter {}: gathered {} values, the full tensor has {}", i,
             t.numel(), numel_of(s.full));
    t = t.contiguous();
    out.insert(out.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }
  return out;
}

}  // namespace t2
