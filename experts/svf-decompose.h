// The SVD of one weight matrix into SVF factors (METHOD.md §3.2): reduced SVD W = U·diag(σ)·Vᵀ,
// computed in fp32 (or fp64 when asked) whatever the checkpoint's dtype, factors returned in fp32
// (or fp64). INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include "experts/svf-compose.h"

namespace t2 {

SvfFactors svf_decompose(const torch::Tensor& W, bool fp64 = false);

}  // namespace t2
