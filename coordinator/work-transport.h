// How the scheduler talks to worker groups. The in-process implementation runs each group on a
// thread (work-transport-threads.h); the MPI one sends typed messages to the first rank of each group.
// Contract:
//   send(g, item)   hands one item to group g, which is idle; never blocks on the group's work
//   poll(deadline)  the next result from any group, or nullopt once the deadline passed (never later)
//   shutdown(dl)    tells every group to stop and waits for them until the deadline
// A result carries the item id it answers; a transport never invents or drops results of a group that
// is alive, but a hung group simply never answers: the scheduler's deadlines deal with that.
#pragma once

#include <optional>

#include "coordinator/work-item.h"
#include "core/deadline.h"

namespace t2 {

class WorkTransport {
 public:
  virtual ~WorkTransport() = default;
  virtual int groups() const = 0;
  // The world rank of the group's first process, for reports ("group 1 (rank 3)").
  virtual int group_rank(int group) const = 0;
  virtual void send(int group, const WorkItem& item) = 0;
  virtual std::optional<WorkResult> poll(Deadline deadline) = 0;
  virtual void shutdown(Deadline deadline) = 0;
};

}  // namespace t2
