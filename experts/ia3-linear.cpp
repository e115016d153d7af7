#include "experts/ia3-linear.h"

#include "core/check.h"
#include "experts/shape.h"

namespace t2 {

Ia3Vector ia3_init(int64_t out, int64_t in, bool feedforward) {
  Ia3Vector v;
  v.feedforward = feedforward;
  v.l = torch::ones({feedforward ? in : out}, torch::kFloat);
  return v;
}

Ia3Vector ia3_shard(const Ia3Vector& full, const LinearInfo& info) {
  const int64_t want = full.feedforward ? info.in_features : info.out_features;
  T2_CHECK(full.l.dim() == 1 && full.l.numel() == want, "IA3 vector of '{}' has shape {}, the layer needs [{}] ({})",
           info.name, shape_of(full.l), want, full.feedforward ? "feed-forward: input features" : "output features");
  Ia3Vector v = full;
  if (full.feedforward && info.in_local != info.in_features)
    v.l = full.l.narrow(0, info.in_offset, info.in_local).contiguous();
  if (!full.feedforward && info.out_local != info.out_features)
    v.l = full.l.narrow(0, info.out_offset, info.out_local).contiguous();
  return v;
}

torch::Tensor ia3_merge(const torch::Tensor& W, const Ia3Vector& v) {
  auto w = W.to(torch::kFloat64);
  auto l = v.l.to(torch::kFloat64);
  return v.feedforward ? w * l.unsqueeze(0) : w * l.unsqueeze(1);
}

bool ia3_replicated(const Ia3Vector& v, LinearKind kind) {
  return v.feedforward ? kind == LinearKind::column_parallel : kind == LinearKind::row_parallel;
}

torch::Tensor Ia3LinearAdapter::forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor&) {
  const auto& l = v_.l;
  if (v_.feedforward) {
    T2_CHECK(l.numel() == x.size(-1), "IA3 input scale of '{}' has {} entries, the input has {}", info_.name,
             l.numel(), x.size(-1));
    return torch::matmul(x.to(torch::kFloat) * l, base.to(torch::kFloat).t()).to(x.scalar_type());
  }
  T2_CHECK(l.numel() == base.size(0), "IA3 output scale of '{}' has {} entries, the layer has {} outputs", info_.name,
           l.numel(), base.size(0));
  return (torch::matmul(x.to(torch::kFloat), base.to(torch::kFloat).t()) * l).to(x.scalar_type());
}

}  // namespace t2
