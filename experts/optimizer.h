// The z optimizers of REINFORCE (METHOD.md §4.1): Adam as the reference code (lr 2e-3, default
// betas, no decay, no schedule) and AdamW with cosine decay as the paper; both after clipping the
// gradient to a global norm (1e-3). Plain float loops in a fixed order, so a step is a pure,
// bit-reproducible function of (config, state, z, grad). Torch-free (public).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

struct OptimizerConfig {
  std::string kind = "adam";      // "adam" | "adamw"
  double lr = 2e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;      // decoupled (AdamW); ignored by "adam"
  double clip_norm = 1e-3;        // <= 0: no clipping
  bool cosine = false;            // cosine decay from lr to min_lr over total_steps
  int64_t total_steps = 0;
  double min_lr = 0.0;
};

// The paper's variant: AdamW, cosine decay over `steps`.
OptimizerConfig optimizer_paper_defaults(int64_t steps);

struct OptimizerState {
  std::vector<float> m, v;   // first and second moments, same length as z
  int64_t t = 0;             // steps taken
};

struct OptimizerStepInfo {
  double grad_norm = 0;      // before clipping
  double lr = 0;             // the learning rate used
};

// Checks the config (UsageError naming the field and the valid values).
void optimizer_validate(const OptimizerConfig& c);

// The learning rate of step t (0-based).
double optimizer_lr(const OptimizerConfig& c, int64_t t);

// One step: clip `grad` (global norm, as torch's clip_grad_norm_), update moments and z in place.
OptimizerStepInfo optimizer_step(const OptimizerConfig& c, OptimizerState& s, std::vector<float>& z,
                                 std::vector<float> grad);

}  // namespace t2
