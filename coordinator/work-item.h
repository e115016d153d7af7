// The unit the scheduler hands to a worker group and the answer it gets back. Transport-independent:
// the payloads are opaque bytes encoded by the job's driver (z and a prompt shard for a REINFORCE
// step, α for a CEM candidate, a range of examples for an evaluation batch), so the in-process
// transport and the MPI one carry the same thing.
#pragma once

#include <cstdint>
#include <string>

namespace t2 {

struct WorkItem {
  uint64_t id = 0;        // unique within a run, in dispatch order (a retry gets a new id)
  std::string job;        // the job it belongs to
  std::string kind;       // "eval-batch", "reinforce-shard", "cem-candidate", ...
  std::string model;      // the model the group must have loaded to run it
  uint64_t index = 0;     // the driver's number for it within the job (batch, shard, candidate)
  int attempt = 1;        // 1 for the first try
  uint64_t units = 1;     // progress units it covers (examples)
  double heartbeat_seconds = 0;  // a busy group signs of life this often (0: it need not)
  // The item's deadline (its kind's, plus the model load when it makes its group load one): a
  // transport never waits longer than this to deliver it (0: the transport's default). Not sent.
  double deadline_seconds = 0;
  std::string payload;

  // "item 17 (job eval-gsm8k, eval-batch #3, attempt 2, model llama3-8b)"
  std::string describe() const;
};

struct WorkResult {
  uint64_t item_id = 0;
  int group = -1;
  bool ok = true;
  std::string error;      // the worker's exception message when !ok
  std::string payload;
  double seconds = 0;     // time the group spent on it
  bool heartbeat = false; // not a result: the group is alive and still working on item_id
};

}  // namespace t2
