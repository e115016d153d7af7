// The MPI WorkTransport and the worker request loop that answers it (DESIGN.md decision 4: MPI is
// the control plane). Rank 0's scheduler sends each item as a typed request (cluster/mpi-channel.h)
// to the first rank of a worker group; that rank broadcasts it to the rest of its tensor-parallel
// group, every rank of the group executes it in lockstep, and the first rank replies. When the
// world is too small for a dedicated coordinator (WorldLayout: N - 1 < tp), rank 0 also leads
// group 0, which then runs on a thread of rank 0 (needs MPI_THREAD_MULTIPLE when tp > 1).
//
// No wait is unbounded: an item is sent within its own deadline (WorkItem::deadline_seconds), a
// worker waits for its next request at most `idle_timeout` (then reports and leaves), and a group
// that stops answering is the scheduler's deadline to deal with.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cluster/world-layout.h"
#include "coordinator/work-transport.h"
#include "core/deadline.h"

namespace t2 {

class MpiChannel;
class Communicator;
class ThreadTransport;

// Runs one item on this rank (all ranks of a group call it with the same item); the result payload.
using ItemExecutor = std::function<std::string(const WorkItem& item)>;

class MpiWorkTransport : public WorkTransport {
 public:
  // `channel` spans MPI_COMM_WORLD; `local` runs group 0 on this rank when the layout says the
  // coordinator works (else nullptr).
  MpiWorkTransport(MpiChannel& channel, const WorldLayout& layout, ItemExecutor local);
  ~MpiWorkTransport() override;

  int groups() const override { return layout_.num_groups(); }
  int group_rank(int group) const override;
  void send(int group, const WorkItem& item) override;
  std::optional<WorkResult> poll(Deadline deadline) override;
  void shutdown(Deadline deadline) override;

 private:
  MpiChannel& chan_;
  WorldLayout layout_;
  std::unique_ptr<ThreadTransport> local_;
  bool shut_down_ = false;
};

// The request loop of a worker rank (every rank but a non-working coordinator): until shutdown.
// `group` is the rank's tensor-parallel communicator (nullptr or size 1 for tp = 1). Returns 0 on a
// clean shutdown; throws TimeoutError when no request came within idle_timeout.
int run_worker_loop(MpiChannel& channel, const WorldLayout& layout, Communicator* group, const ItemExecutor& exec,
                    Seconds idle_timeout);

// Rank 0 leading group 0 (coordinator_works with tp > 1): hands `item` to the group's other ranks
// (which run run_worker_loop) and executes it here; group_shutdown() releases them at the end.
std::string run_group_item(Communicator* group, const ItemExecutor& exec, const WorkItem& item, Seconds timeout);
void group_shutdown(Communicator* group, Seconds timeout);

// Shared by both sides: a WorkItem as a request message and back.
std::string encode_work_item(const WorkItem& item);
WorkItem decode_work_item(const std::string& bytes, const std::string& origin);

}  // namespace t2
