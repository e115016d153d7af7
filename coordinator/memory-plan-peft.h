// The memory of a train_peft job per rank (`t2 plan` on a campaign with baselines): derived from the
// SVF plan of the same model and settings (memory-plan.h), whose serving weights, generation (rollouts
// and validation) and scoring backward are the same, with the SVF factors, z and compose workspace
// replaced by the adapter and its gradient in fp32. The optimizer state stays on the coordinator
// (DESIGN.md decision 1) as for SVF. Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "coordinator/memory-plan.h"

namespace t2 {

struct PeftPlanSpec {
  std::string method = "lora";   // lora | ia3 | dora
  std::string modules = "attn";  // attn: the method's attention targets; all: also gate, up, down
  int64_t r = 16;
};

// Trainable values of the adapter on this shape (LoRA r·(in+out) per adapted matrix, DoRA + out,
// IA3 out, or in for down_proj).
int64_t peft_trainable_values(const ModelShape& shape, const PeftPlanSpec& spec);

// The phase "train-<method>" of `svf_plan` (which must be valid).
PhasePlan plan_peft_training(const MemoryPlan& svf_plan, const PeftPlanSpec& spec);

std::string peft_plan_text(const PhasePlan& phase, const PeftPlanSpec& spec, int64_t trainable);

}  // namespace t2
