// SVF composition (METHOD.md §3.4) and its closed-form gradient (§3.5), on one matrix's factors.
//
//   m  = sigmoid(z)                     (or given multipliers, e.g. a CEM mixture)
//   a  = σ ⊙ m
//   c  = Σσ / Σa                        (nuclear-norm rescale; a uniform m gives back W)
//   W' = U · diag(c·a) · Vᵀ             accumulated in fp32 (or fp64), rounded once to the serving dtype
//
// With G = dL/dW' and g_i = u_iᵀ G v_i (only diag(Uᵀ G V) is needed):
//   dL/da_i = c·(g_i − Σ_j a_j g_j / Σ_j a_j),   dL/dz_i = dL/da_i · σ_i · m_i (1 − m_i).
//
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace t2 {

// One matrix's (local shard of its) SVD factors: W ≈ U · diag(S) · Vᵀ with U [out, k], S [k],
// V [in, k] (V not transposed, as torch.svd returns it), on the worker's device. U and V are held in
// the serving dtype when that is 16-bit (bf16 on GPU: half the memory), else as decomposed (fp32 or
// fp64); S stays fp32/fp64. Scales, z-gradients and composition accumulate in at least fp32.
struct SvfFactors {
  torch::Tensor U, S, V;
  int64_t rank() const { return S.size(0); }
};

// The dtype sums over a factor dtype run in: fp32 for 16-bit factors, else the factors' own.
inline torch::ScalarType accumulation_dtype(torch::ScalarType factors) {
  return factors == torch::kBFloat16 || factors == torch::kHalf ? torch::kFloat : factors;
}

// Below this Σ(σ⊙m) the rescale is undefined (all multipliers zero, possible for CEM mixtures with
// every α = 0): t2 then uses the base weights (scale = σ) instead of producing NaN.
inline constexpr double kSvfMinMass = 1e-30;

// The effective singular values c·(σ⊙m) for multipliers m of shape [k] or [B, k] (one row per
// sequence). Differentiable in m. Rows with Σ(σ⊙m) < kSvfMinMass get σ (base weights).
torch::Tensor svf_scale(const torch::Tensor& S, const torch::Tensor& m);

// W' = U · diag(svf_scale(S, m)) · Vᵀ accumulated in accumulation_dtype(U), rounded once to `out_dtype`.
torch::Tensor svf_compose(const SvfFactors& f, const torch::Tensor& m, torch::ScalarType out_dtype);

// dL/dz from g = diag(Uᵀ G V) (shape [k] or [B, k], matching z) by the closed form above.
torch::Tensor svf_z_grad(const torch::Tensor& S, const torch::Tensor& z, const torch::Tensor& g);

}  // namespace t2
