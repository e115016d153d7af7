#include "coordinator/work-steps.h"

#include "core/check.h"

namespace t2 {

StepDriver::StepDriver(std::string kind, uint64_t steps, uint64_t shards, uint64_t units_per_shard,
                       MakePayload make_payload, Combine combine)
    : kind_(std::move(kind)),
      steps_(steps),
      shards_(shards),
      units_per_shard_(units_per_shard),
      make_payload_(std::move(make_payload)),
      combine_(std::move(combine)),
      results_(shards) {
  T2_CHECK(shards > 0, "a step job '{}' needs at least one shard", kind_);
}

std::optional<WorkSpec> StepDriver::next() {
  if (step_ >= steps_ || handed_ >= shards_) return std::nullopt;  // wait for this step's results
  const uint64_t shard = handed_++;
  // Item indices are global (step × shards + shard) so that a result names its step.
  return WorkSpec{kind_, step_ * shards_ + shard, units_per_shard_,
                  make_payload_ ? make_payload_(step_, shard) : std::to_string(step_)};
}

void StepDriver::complete(const WorkSpec& spec, const WorkResult& result) {
  const uint64_t step = spec.index / shards_, shard = spec.index % shards_;
  if (step != step_ || results_[shard]) return;  // a late duplicate of an item already answered
  results_[shard] = result;
  units_done_ += units_per_shard_;
  for (const auto& r : results_)
    if (!r) return;
  std::vector<WorkResult> by_shard;
  for (auto& r : results_) by_shard.push_back(std::move(*r));
  if (combine_) metrics_ = combine_(step_, by_shard);
  for (auto& r : results_) r.reset();
  ++step_;
  handed_ = 0;
}

}  // namespace t2
