// A job that is a fixed list of independent items: an evaluation sharded into example batches, or a
// decomposition split by matrices. Items can run in any order and on any group; each result is handed
// to a callback as it arrives.
#pragma once

#include <functional>
#include <vector>

#include "coordinator/work-driver.h"

namespace t2 {

class BatchDriver : public JobDriver {
 public:
  using OnResult = std::function<void(uint64_t index, const WorkResult& result)>;
  using MakePayload = std::function<std::string(uint64_t index, uint64_t first_unit, uint64_t units)>;

  // `total_units` examples in batches of `batch_units` (the last one smaller).
  BatchDriver(std::string kind, uint64_t total_units, uint64_t batch_units, MakePayload make_payload = nullptr,
              OnResult on_result = nullptr);

  std::optional<WorkSpec> next() override;
  void complete(const WorkSpec& spec, const WorkResult& result) override;
  bool exhausted() const override { return next_index_ >= batches_; }
  bool done() const override { return completed_ == batches_; }
  uint64_t units_total() const override { return total_units_; }
  uint64_t units_done() const override { return units_done_; }
  nlohmann::json metrics() const override;

  uint64_t batches() const { return batches_; }

 private:
  std::string kind_;
  uint64_t total_units_, batch_units_, batches_;
  MakePayload make_payload_;
  OnResult on_result_;
  uint64_t next_index_ = 0, completed_ = 0, units_done_ = 0;
  std::vector<bool> seen_;
};

}  // namespace t2
