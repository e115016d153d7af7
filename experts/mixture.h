// Mixtures of experts for the few-shot adaptation (METHOD.md §6.3): coefficients α, one per expert
// ([K]) or one per expert per adapted matrix ([K, P], expert-major), combined into the multipliers
// of every matrix, which then go through the same nuclear-norm rescale as a single expert.
//
//   multiplier (default):  m' = Σ_k α_k · sigmoid(z_k)       (α = one-hot reproduces expert k exactly)
//   logit:                 m' = sigmoid(Σ_k α_k · z_k)       (one-hot reproduces expert k; α = 0 the base)
//   raw_z (compat):        m' = Σ_k α_k · z_k                  (the reference code: raw logits, no sigmoid)
//
// Why logit: the composition divides by Σ(σ⊙m'), so it is blind to the scale of m'. Mixing multipliers
// therefore only interpolates between the experts (α = (1, 1) is the same model as (½, ½): half of
// each expert's change). Mixing the logits the experts were trained in adds their changes instead
// (sigmoid is near-linear around z ≈ 0.1), which is what a task needing two experts' skills at once
// asks for.
//
// All-zero α for a matrix gives Σ(σ⊙m') = 0: svf_scale then uses the base weights, never NaN.
// Torch-free (public).
#pragma once

#include <string>
#include <vector>

#include "experts/z-layout.h"

namespace t2 {

enum class MixingMode { multiplier, logit, raw_z };
MixingMode mixing_mode_from_name(const std::string& name);  // multiplier | logit | raw_z
std::string mixing_mode_name(MixingMode m);

// Number of coefficients: K (per_matrix false) or K·P.
int64_t mixture_dim(int64_t experts, const ZLayout& layout, bool per_matrix);

// The mixed multipliers (flat over `layout`) for coefficients `alpha`; experts[k] is expert k's z.
std::vector<float> mixture_multipliers(const std::vector<std::vector<float>>& experts, const ZLayout& layout,
                                       const std::vector<double>& alpha, bool per_matrix, MixingMode mode);

}  // namespace t2
