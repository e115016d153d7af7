// The SVF linear layer: a LinearAdapter (workers/linear-adapter.h) that computes a layer in the
// factored form
//     y = U · (s_b ⊙ (Vᵀ x)),   s_b = c_b · σ ⊙ m_b,   m_b = sigmoid(z_b) or given multipliers,
// with one scale vector for the whole batch ([k]) or one per sequence ([B, k], picked by row_of), so
// a CEM population or a batch of requests routed to different experts runs in ONE forward.
//
// When z requires grad, the layer is a custom autograd function whose backward accumulates
// g = diag(Uᵀ G V) = Σ_rows (Uᵀ gy) ⊙ (Vᵀ x) per singular direction and turns it into dL/dz by the
// closed form (svf-compose.h); no dense dL/dW ever exists and the base weight never gets a grad.
//
// Tensor parallelism: column-parallel layers hold U's rows of this rank, row-parallel ones V's rows
// (svf_shard). Either way each rank's dL/dz is a partial sum: the z-gradient of a TP group is the sum
// over its ranks (one all-reduce of k floats per matrix).
//
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include "experts/svf-compose.h"
#include "workers/linear-adapter.h"

namespace t2 {

// This rank's shard of full factors for a layer with the given layout.
SvfFactors svf_shard(const SvfFactors& full, const LinearInfo& info);

// y = U·(s ⊙ (Vᵀx)) for x [N, in], scale [k] or [B, k] (rows picked by row_of [N]). Plain autograd.
torch::Tensor svf_factored_forward(const SvfFactors& f, const torch::Tensor& x, const torch::Tensor& scale,
                                   const torch::Tensor& row_of);

// The same with scale = svf_scale(σ, sigmoid(z)) and the closed-form backward to z (and x).
torch::Tensor svf_linear_z(const SvfFactors& f, const torch::Tensor& x, const torch::Tensor& z,
                           const torch::Tensor& row_of);

class SvfLinearAdapter : public LinearAdapter {
 public:
  explicit SvfLinearAdapter(SvfFactors f) : f_(std::move(f)) {}

  // z of shape [k] (one expert) or [B, k] (one per sequence); may require grad (training).
  void set_z(torch::Tensor z);
  // Multipliers m (e.g. a mixture) of shape [k] or [B, k]; no gradient.
  void set_multipliers(torch::Tensor m);

  const SvfFactors& factors() const { return f_; }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) override;

 private:
  SvfFactors f_;
  torch::Tensor z_;      // set in z mode
  torch::Tensor scale_;  // set in multiplier mode: svf_scale(σ, m)
};

}  // namespace t2
