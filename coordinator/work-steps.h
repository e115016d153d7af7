// A job made of synchronous steps, each fanned out over shards: a REINFORCE step (every group computes
// the z-gradient of its prompt shard; the coordinator sums them, takes the Adam step, checkpoints) or a
// CEM generation (one item per candidate; the coordinator refits mean and std). The items of step s+1
// exist only once every result of step s has been combined, so the coordinator holds all state.
#pragma once

#include <functional>
#include <vector>

#include "coordinator/work-driver.h"

namespace t2 {

class StepDriver : public JobDriver {
 public:
  // The payload of shard `shard` of step `step` (z and the prompt indices, or a candidate's α).
  using MakePayload = std::function<std::string(uint64_t step, uint64_t shard)>;
  // Combines the results of one step (ordered by shard) into the coordinator's state; returns the
  // metrics to show (loss, reward, best score).
  using Combine = std::function<nlohmann::json(uint64_t step, const std::vector<WorkResult>& by_shard)>;

  StepDriver(std::string kind, uint64_t steps, uint64_t shards, uint64_t units_per_shard, MakePayload make_payload,
             Combine combine);

  std::optional<WorkSpec> next() override;
  void complete(const WorkSpec& spec, const WorkResult& result) override;
  bool exhausted() const override { return step_ + 1 >= steps_ && handed_ >= shards_; }
  bool done() const override { return step_ >= steps_; }
  uint64_t units_total() const override { return steps_ * shards_ * units_per_shard_; }
  uint64_t units_done() const override { return units_done_; }
  nlohmann::json metrics() const override { return metrics_; }

  uint64_t step() const { return step_; }

 private:
  std::string kind_;
  uint64_t steps_, shards_, units_per_shard_;
  MakePayload make_payload_;
  Combine combine_;
  uint64_t step_ = 0, handed_ = 0, units_done_ = 0;
  std::vector<std::optional<WorkResult>> results_;
  nlohmann::json metrics_ = nlohmann::json::object();
};

}  // namespace t2
