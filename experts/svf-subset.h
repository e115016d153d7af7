// Which matrices of a model's decomposition an SVF expert trains: those of its modules (mlp: gate, up,
// down; attn: q, v; attn_qkvo: q, k, v, o; all: mlp + q, v; all_qkvo: mlp + q, k, v, o) in its
// layers. One decomposition per model serves experts of different modules and layers (Table 4's
// ablations, the paper's 70B on half of the layers): the others keep a uniform z, and a uniform
// multiplier gives back W exactly (svf-compose.h), so they are not adapted. Torch-free (public).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experts/z-layout.h"

namespace t2 {

// Per matrix of `layout`: trained or not. UsageError when the layout lacks a matrix the expert asks
// for (the decomposition covers other modules or layers), naming it.
std::vector<bool> svf_trained_matrices(const ZLayout& layout, const std::string& modules,
                                       const std::vector<int64_t>& layers);

// The values trained (Σ sizes of the trained matrices).
int64_t svf_trained_values(const ZLayout& layout, const std::vector<bool>& trained);

}  // namespace t2
