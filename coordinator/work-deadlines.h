// Deadlines per kind of work. Rank 0 gives every item the deadline of its kind; a busy group's
// heartbeats (coordinator/item-heartbeat.h, every quarter of that deadline) restart it, so the
// deadline bounds *silence*, not work: a slow group that is alive is never taken for hung, a stopped
// or dead one is reported (group, rank, job, item) within its kind's deadline and its item requeued.
//
//   kind               items                                        campaign key (seconds)
//   load               extra time for an item that loads a model    timeouts.model_load (3600)
//   decompose          the SVD of one model                         timeouts.decompose
//   generate           REINFORCE rollouts and validation batches    timeouts.generate
//   gradient           REINFORCE z-gradients of a shard             timeouts.gradient
//   evaluation_batch   one evaluation batch                         timeouts.evaluation_batch
//   cem_chunk          one chunk of CEM candidates                  timeouts.cem_chunk
// A kind without its key takes timeouts.control_message (600 s by default): one key sets them all,
// the specific ones refine. Torch-free.
#pragma once

#include <string>

#include "core/deadline.h"
#include "jobs/campaign.h"

namespace t2 {

struct WorkDeadlines {
  Seconds load = timeouts::model_load;
  Seconds decompose = timeouts::control_message;
  Seconds generate = timeouts::control_message;
  Seconds gradient = timeouts::control_message;
  Seconds evaluation_batch = timeouts::control_message;
  Seconds cem_chunk = timeouts::control_message;

  static WorkDeadlines from_campaign(const Campaign& campaign);
  // The kind of an item of a job ("evaluate", "generate" -> "evaluation_batch").
  static std::string kind_of(const std::string& job_kind, const std::string& item_kind);
  Seconds of(const std::string& job_kind, const std::string& item_kind) const;
};

}  // namespace t2
