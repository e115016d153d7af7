// The memory plan of a campaign's model as the campaign configures it: the settings `t2 plan CAMPAIGN`
// prints and `t2 submit` checks before it queues anything, from the model's tp, GPU memory, dtype and
// device and from the experiments that use it (evaluate batch, new tokens, gradient rows, KL
// reference, recomputation, SVF modules and layers).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/memory-plan.h"
#include "jobs/campaign.h"

namespace t2 {

// Whether a command-line flag fixed a setting (then the campaign does not change it); t2 submit has
// no such flags.
using PlanFlagGiven = std::function<bool(const char* flag)>;

// `base` with what campaign `c` says about model `m` (of shape `shape`), except where `given`.
// `cpu_attention_fused`: whether this build's CPU attention is fused (fused_attention_built(), which
// lives in the torch library; the caller passes it so that this code stays torch-free).
PlanSettings campaign_plan_settings(const Campaign& c, const ModelSpec& m, const ModelShape& shape, PlanSettings base,
                                    const PlanFlagGiven& given, bool cpu_attention_fused);

// The phases and kinds of work item that do not fit their budget.
std::vector<const PhasePlan*> phases_over_budget(const MemoryPlan& p);

// A valid layout whose phases and every kind of work item fit.
bool plan_fits(const MemoryPlan& p);

// The largest integer a hyperparameter takes (a value or a sweep list), or 0 (callers only ask
// whether it is positive).
int64_t max_param(const nlohmann::json& params, const char* key);

// Whether experiment e runs on the model named `model`.
bool uses_model(const ExperimentSpec& e, const std::string& model);

}  // namespace t2
