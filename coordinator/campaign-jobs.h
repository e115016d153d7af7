// The plan's jobs as scheduler JobSpecs: one driver per job kind, holding the algorithm state on
// the coordinator (DESIGN.md decision 1) and persisting every finished unit through the run store,
// so that `t2 run` on an existing run directory resumes where it stopped:
//
//   decompose          one `decompose` item per model (the SVD cache is reused when its hash matches)
//   train_expert,      REINFORCE: per step, `generate` items (rollouts of fixed prompt shards), then
//   classifier_expert  `grad` items (the shards' z-gradients), summed in shard order, one optimizer
//                      step, validation (`generate` on the valid split) every valid_every steps, a
//                      checkpoint after every step; the best-on-validation z becomes expert.h5
//   fewshot_search     CEM: per generation, `cem` items of fixed chunks of candidates; a generation
//                      record after each; the final best α is the result
//   evaluate           `generate` items of batch_size test examples; each batch is written as it
//                      arrives; metrics and DONE at the end
// Payloads are built and packed when an item is handed out, not when its round is planned: the
// batches of an evaluation share one base payload (the adaptation's z) instead of one packed copy each.
// Item composition never depends on the number of worker groups (fixed shard and chunk sizes, sums
// in shard order), so one process, `mpirun -np N` and a resumed run produce the same numbers on CPU.
// Torch-free.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/scheduler.h"
#include "jobs/campaign.h"
#include "jobs/job-plan.h"

namespace t2 {

namespace results {
class RunStore;
}
class CampaignTasks;

struct CampaignJobsOptions {
  int tp = 1;                      // TP degree of the worker groups (which SVD shard files exist)
  // The degree of each model's groups when the world has groups of several degrees (a model's SVD
  // shards are written by its own groups); a model not named here uses `tp`. Also each job's
  // JobSpec::tp, so the scheduler hands its items only to groups of that degree.
  std::map<std::string, int> model_tp;
  int64_t rollout_shard = 16;      // prompts per REINFORCE rollout / gradient item
  int64_t valid_batch = 64;        // examples per validation item
  int64_t cem_chunk = 8;           // CEM candidates per item
  std::function<void(const std::string&)> log;  // one line per notable event (job finished, ...)
};

// Builds one JobSpec per plan job (in plan order). Jobs already DONE in the store come back with
// a driver that is done at once.
std::vector<JobSpec> make_campaign_jobs(const Campaign& campaign, const Plan& plan, results::RunStore& store,
                                        CampaignTasks& tasks, const CampaignJobsOptions& options);

}  // namespace t2
