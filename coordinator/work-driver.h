// A job's driver splits the job into work items and consumes their results; the coordinator keeps
// all algorithm state here (DESIGN.md decision 1). Evaluation batches, REINFORCE steps (one item
// per data shard, a barrier, the Adam step on the coordinator) and CEM generations (one item per
// candidate) are drivers; the scheduler only sees items.
//
// Contract (the scheduler calls these from one thread):
//   next()        the next item ready to run now, or nullopt when none is (all handed out, or waiting
//                 for results before the next step). Each call hands out a new item.
//   complete()    the successful result of an item this driver produced; may make new items ready.
//                 A throw fails the job with that message.
//   exhausted()   no further items will ever come: only results of items in flight are missing.
//                 A group that has this job's model loaded keeps it while a job is not exhausted.
//   done()        every result is in; the job is finished.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/work-item.h"

namespace t2 {

struct WorkSpec {
  std::string kind;
  uint64_t index = 0;
  uint64_t units = 1;
  std::string payload;
};

class JobDriver {
 public:
  virtual ~JobDriver() = default;
  virtual std::optional<WorkSpec> next() = 0;
  virtual void complete(const WorkSpec& spec, const WorkResult& result) = 0;
  virtual bool exhausted() const = 0;
  virtual bool done() const = 0;
  virtual uint64_t units_total() const = 0;
  virtual uint64_t units_done() const = 0;
  // The latest metrics worth showing (reward, accuracy, best CEM score), for status and progress.
  virtual nlohmann::json metrics() const { return nlohmann::json::object(); }
};

}  // namespace t2
