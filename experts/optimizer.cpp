#include "experts/optimizer.h"

#include <cmath>

#include "core/check.h"

namespace t2 {

OptimizerConfig optimizer_paper_defaults(int64_t steps) {
  OptimizerConfig c;
  c.kind = "adamw";
  c.weight_decay = 0.01;  // torch.optim.AdamW's default
  c.cosine = true;
  c.total_steps = steps;
  return c;
}

void optimizer_validate(const OptimizerConfig& c) {
  T2_CHECK_AS(UsageError, c.kind == "adam" || c.kind == "adamw", "optimizer: unknown kind '{}' (valid: adam, adamw)",
              c.kind);
  T2_CHECK_AS(UsageError, c.lr > 0, "optimizer.lr must be positive, got {}", c.lr);
  T2_CHECK_AS(UsageError, c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1,
              "optimizer.betas must be in [0, 1), got {} and {}", c.beta1, c.beta2);
  T2_CHECK_AS(UsageError, !c.cosine || c.total_steps > 0, "optimizer.cosine needs total_steps > 0, got {}",
              c.total_steps);
}

double optimizer_lr(const OptimizerConfig& c, int64_t t) {
  if (!c.cosine) return c.lr;
  double p = std::min<double>(t, c.total_steps) / static_cast<double>(c.total_steps);
  return c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + std::cos(M_PI * p));
}

OptimizerStepInfo optimizer_step(const OptimizerConfig& c, OptimizerState& s, std::vector<float>& z,
                                 std::vector<float> grad) {
  T2_CHECK(grad.size() == z.size(), "gradient has {} entries, z has {}", grad.size(), z.size());
  if (s.m.empty()) s.m.assign(z.size(), 0.0f), s.v.assign(z.size(), 0.0f);
  T2_CHECK(s.m.size() == z.size() && s.v.size() == z.size(), "optimizer moments ({}) do not match z ({})", s.m.size(),
           z.size());
  OptimizerStepInfo info;
  double sq = 0;
  for (float g : grad) sq += static_cast<double>(g) * g;
  info.grad_norm = std::sqrt(sq);
  if (c.clip_norm > 0) {
    double coef = c.clip_norm / (info.grad_norm + 1e-6);  // torch.nn.utils.clip_grad_norm_
    if (coef < 1)
      for (auto& g : grad) g = static_cast<float>(g * coef);
  }
  info.lr = optimizer_lr(c, s.t);
  s.t += 1;
  const double bc1 = 1 - std::pow(c.beta1, static_cast<double>(s.t));
  const double bc2 = 1 - std::pow(c.beta2, static_cast<double>(s.t));
  const double step_size = info.lr / bc1;
  const double decay = c.kind == "adamw" ? 1 - info.lr * c.weight_decay : 1.0;
  for (size_t i = 0; i < z.size(); ++i) {
    const float g = grad[i];
    s.m[i] = static_cast<float>(c.beta1 * s.m[i] + (1 - c.beta1) * g);
    s.v[i] = static_cast<float>(c.beta2 * s.v[i] + (1 - c.beta2) * g * g);
    const double denom = std::sqrt(static_cast<double>(s.v[i])) / std::sqrt(bc2) + c.eps;
    z[i] = static_cast<float>(z[i] * decay - step_size * s.m[i] / denom);
  }
  return info;
}

}  // namespace t2
