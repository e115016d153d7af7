#include "coordinator/work-batches.h"

#include "core/check.h"

namespace t2 {

BatchDriver::BatchDriver(std::string kind, uint64_t total_units, uint64_t batch_units, MakePayload make_payload,
                         OnResult on_result)
    : kind_(std::move(kind)),
      total_units_(total_units),
      batch_units_(batch_units),
      batches_(batch_units == 0 ? 0 : (total_units + batch_units - 1) / batch_units),
      make_payload_(std::move(make_payload)),
      on_result_(std::move(on_result)),
      seen_(batches_, false) {
  T2_CHECK(batch_units > 0 || total_units == 0, "batch of 0 units for {} units of '{}'", total_units, kind_);
}

std::optional<WorkSpec> BatchDriver::next() {
  if (next_index_ >= batches_) return std::nullopt;
  const uint64_t i = next_index_++;
  const uint64_t first = i * batch_units_;
  const uint64_t units = std::min(batch_units_, total_units_ - first);
  WorkSpec s{kind_, i, units, make_payload_ ? make_payload_(i, first, units) : std::to_string(first)};
  return s;
}

void BatchDriver::complete(const WorkSpec& spec, const WorkResult& result) {
  T2_CHECK(spec.index < batches_, "result for batch {} of a job with {} batches", spec.index, batches_);
  // A late duplicate (the first attempt answered after its retry) is counted once.
  if (seen_[spec.index]) return;
  seen_[spec.index] = true;
  if (on_result_) on_result_(spec.index, result);
  ++completed_;
  units_done_ += spec.units;
}

nlohmann::json BatchDriver::metrics() const {
  return {{"batches_done", completed_}, {"batches", batches_}};
}

}  // namespace t2
