#include "experts/svf-compose.h"

#include "core/check.h"
#include "experts/shape.h"

namespace t2 {

torch::Tensor svf_scale(const torch::Tensor& S, const torch::Tensor& m) {
  T2_CHECK(S.dim() == 1, "singular values must be a vector, got {} dims", S.dim());
  T2_CHECK(m.size(-1) == S.size(0) && (m.dim() == 1 || m.dim() == 2),
           "multipliers must be [k] or [B, k] with k = {}, got {}", S.size(0), shape_of(m));
  auto Sm = S.to(m.scalar_type());
  auto a = Sm * m;                                   // [.., k]
  auto mass = a.sum(-1, /*keepdim=*/true);           // Σ(σ⊙m)
  auto total = Sm.sum();                             // Σσ
  // Guard the all-zero case: where the mass vanishes use σ itself (c·a := σ), never 0/0.
  auto ok = mass.abs() >= kSvfMinMass;
  auto safe_mass = torch::where(ok, mass, torch::ones_like(mass));
  auto scaled = a * (total / safe_mass);
  return torch::where(ok, scaled, Sm.expand_as(scaled));
}

torch::Tensor svf_compose(const SvfFactors& f, const torch::Tensor& m, torch::ScalarType out_dtype) {
  T2_CHECK(m.dim() == 1, "svf_compose takes one multiplier vector [k], got {}", shape_of(m));
  auto dt = accumulation_dtype(f.U.scalar_type());
  auto s = svf_scale(f.S.to(dt), m.to(dt));
  // U·diag(s)·Vᵀ accumulated in the factors' precision; one rounding at the end.
  return torch::matmul(f.U.to(dt) * s.unsqueeze(0), f.V.to(dt).t()).to(out_dtype);
}

torch::Tensor svf_z_grad(const torch::Tensor& S, const torch::Tensor& z, const torch::Tensor& g) {
  T2_CHECK(z.sizes() == g.sizes(), "z {} and g {} must have the same shape", shape_of(z), shape_of(g));
  auto Sz = S.to(z.scalar_type());
  auto m = torch::sigmoid(z);
  auto a = Sz * m;
  auto mass = a.sum(-1, true);
  auto ok = mass.abs() >= kSvfMinMass;
  auto safe_mass = torch::where(ok, mass, torch::ones_like(mass));
  auto c = Sz.sum() / safe_mass;
  auto weighted = (a * g).sum(-1, true) / safe_mass;
  auto dl_da = c * (g - weighted);
  auto dz = dl_da * Sz * m * (1 - m);
  return torch::where(ok, dz, torch::zeros_like(dz));
}

}  // namespace t2
