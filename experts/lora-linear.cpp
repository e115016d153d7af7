#include "experts/lora-linear.h"

#include <cmath>

#include "core/check.h"
#include "experts/shape.h"
#include "workers/tp-collectives.h"

namespace t2 {

LoraFactors lora_init(int64_t out, int64_t in, int64_t r, double alpha, uint64_t seed) {
  T2_CHECK(r > 0 && out > 0 && in > 0, "LoRA rank and layer shape must be positive (r {}, {}x{})", r, out, in);
  auto gen = at::detail::createCPUGenerator(seed);
  LoraFactors f;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform_(a=√5) on [r, in]
  f.A = torch::empty({r, in}, torch::kFloat).uniform_(-bound, bound, gen);
  f.B = torch::zeros({out, r}, torch::kFloat);
  f.scaling = alpha / static_cast<double>(r);
  return f;
}

torch::Tensor dora_magnitude_init(const torch::Tensor& full_weight) {
  return full_weight.to(torch::kFloat).norm(2, {1});
}

LoraFactors lora_shard(const LoraFactors& full, const LinearInfo& info) {
  T2_CHECK(full.A.dim() == 2 && full.B.dim() == 2 && full.A.size(0) == full.B.size(1),
           "LoRA factors of '{}' are A {} and B {}: expected A [r, in], B [out, r]", info.name, shape_of(full.A),
           shape_of(full.B));
  T2_CHECK(full.B.size(0) == info.out_features && full.A.size(1) == info.in_features,
           "LoRA factors of '{}' are B {}·A {} but the layer is {}x{}", info.name, shape_of(full.B),
           shape_of(full.A), info.out_features, info.in_features);
  T2_CHECK(!full.dora() || full.magnitude.numel() == info.out_features,
           "DoRA magnitude of '{}' has {} entries, the layer has {} outputs", info.name, full.magnitude.numel(),
           info.out_features);
  LoraFactors f = full;
  if (info.out_local != info.out_features) {
    f.B = full.B.narrow(0, info.out_offset, info.out_local).contiguous();
    if (full.dora()) f.magnitude = full.magnitude.narrow(0, info.out_offset, info.out_local).contiguous();
  }
  if (info.in_local != info.in_features) f.A = full.A.narrow(1, info.in_offset, info.in_local).contiguous();
  return f;
}

torch::Tensor lora_merge(const torch::Tensor& W, const LoraFactors& f) {
  auto w = W.to(torch::kFloat64);
  auto merged = w + f.scaling * torch::matmul(f.B.to(torch::kFloat64), f.A.to(torch::kFloat64));
  if (!f.dora()) return merged;
  auto norm = merged.norm(2, {1}, /*keepdim=*/true);
  return f.magnitude.to(torch::kFloat64).unsqueeze(1) * merged / norm;
}

void LoraLinearAdapter::set_trainable(bool on) {
  f_.A = f_.A.detach().requires_grad_(on);
  f_.B = f_.B.detach().requires_grad_(on);
  if (f_.dora()) f_.magnitude = f_.magnitude.detach().requires_grad_(on);
}

torch::Tensor LoraLinearAdapter::forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor&) {
  T2_CHECK(x.size(-1) == f_.A.size(1) && base.size(0) == f_.B.size(0),
           "LoRA adapter of '{}' (A {}, B {}) got input {} and weight {}", info_.name, shape_of(f_.A), shape_of(f_.B),
           shape_of(x), shape_of(base));
  const auto dt = torch::kFloat;
  auto xf = x.to(dt);
  auto W = base.to(dt);
  auto base_out = torch::matmul(xf, W.t());
  const bool drop = training_ && dropout_ > 0;
  auto xd = drop ? torch::dropout(xf, dropout_, /*train=*/true) : xf;
  auto lora = torch::matmul(torch::matmul(xd, f_.A.t()), f_.B.t()) * f_.scaling;
  if (!f_.dora()) return (base_out + lora).to(x.scalar_type());

  torch::Tensor g;
  {
    torch::NoGradGuard ng;  // ‖W + s·BA‖_row is a constant for the gradient
    auto merged = W + f_.scaling * torch::matmul(f_.B.detach(), f_.A.detach());
    auto sq = merged.pow(2).sum(1);  // [out_local]
    if (info_.kind == LinearKind::row_parallel) sq = tp_reduce_from(sq.contiguous(), comm_);
    g = sq.sqrt();
  }
  auto scale = f_.magnitude / g;  // [out_local], differentiable in m
  if (!drop) return (scale * (base_out + lora)).to(x.scalar_type());
  auto drop_base = torch::matmul(xd, W.t());
  return (base_out + (scale - 1) * drop_base + scale * lora).to(x.scalar_type());
}

std::vector<torch::Tensor> lora_replicated_params(const LoraFactors& f, LinearKind kind) {
  if (kind == LinearKind::column_parallel) return {f.A};
  if (kind == LinearKind::row_parallel) {
    std::vector<torch::Tensor> v = {f.B};
    if (f.dora()) v.push_back(f.magnitude);
    return v;
  }
  return {};
}

}  // namespace t2
