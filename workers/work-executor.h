// The worker side of a campaign: runs one work item on this rank's share of a model and returns the
// result payload. Stateless between items apart from caches (DESIGN.md decision 1): the loaded model
// (kept while items for it keep coming: model affinity), its SVD factors, tokenizer and the tasks'
// examples. Every rank of a tensor-parallel group executes the same item in lockstep; only the
// group's first rank scores and its answer is returned to the coordinator.
//
// Item kinds (coordinator/campaign-jobs.h makes them; payloads are coordinator/work-payload.h):
//   decompose  SVD of the model's adapted matrices into RUN_DIR/svd/<model> (reused when present)
//   generate   continue examples of a task role under an adaptation (base weights, one z, per-example
//              multipliers, or a two-pass dispatch route), score them; optionally return the tokens
//   grad       the REINFORCE z-gradient of a shard of rollouts (experts/reinforce-step.h)
//   cem        a chunk of CEM candidates (multiplier rows) on the shots, all in ONE batched forward
// The header is torch-free; the implementation uses the runtime and experts/.
#pragma once

#include <memory>
#include <string>

#include "coordinator/work-item.h"
#include "jobs/campaign.h"

namespace t2 {

class Communicator;

struct ExecutorPlacement {
  Communicator* tp_comm = nullptr;   // the group's tensor-parallel communicator (nullptr: one rank)
  std::string device = "cpu";
  bool leader = true;                // the group's first rank: scores and answers
};

class WorkExecutor {
 public:
  WorkExecutor(const Campaign& campaign, std::string run_dir, ExecutorPlacement placement);
  ~WorkExecutor();
  WorkExecutor(const WorkExecutor&) = delete;
  WorkExecutor& operator=(const WorkExecutor&) = delete;

  // Returns the result payload; throws with a message naming the item on failure.
  std::string execute(const WorkItem& item);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Where a model's decomposition lives in a run directory.
std::string run_svd_dir(const std::string& run_dir, const std::string& model);

}  // namespace t2
