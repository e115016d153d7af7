// The in-process WorkTransport: each worker group is a thread that runs an executor function on the
// items it is sent. Used by `t2 run` on one process (laptop, tiny model) and by the scheduler's tests
// and benchmark. An executor that throws produces a failed result carrying the message; one that
// hangs simply never answers (the scheduler's deadline handles it). Executors must return once
// ctx.stopping() is true (sleep through ctx.sleep_for), so that shutdown can join every thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "coordinator/work-transport.h"

namespace t2 {

class ThreadTransport : public WorkTransport {
 public:
  struct Context {
    int group = 0;
    std::string loaded_model;  // the model of this group's previous item ("" at first)
    bool stopping() const;
    // Sleeps up to `d`, returning early (false) when the transport shuts down.
    bool sleep_for(Seconds d) const;
    // A sign of life for the item being executed (the scheduler restarts its deadline); executors
    // that run long call it every item.heartbeat_seconds.
    void heartbeat() const;
    uint64_t item_id = 0;      // the item being executed
    ThreadTransport* owner = nullptr;
  };
  // Returns the result payload; a throw becomes a failed result with the exception's message.
  using Executor = std::function<std::string(const WorkItem& item, Context& ctx)>;

  ThreadTransport(int groups, Executor executor);
  ~ThreadTransport() override;

  int groups() const override { return static_cast<int>(groups_.size()); }
  int group_rank(int group) const override { return group + 1; }  // rank 0 is the coordinator
  void send(int group, const WorkItem& item) override;
  std::optional<WorkResult> poll(Deadline deadline) override;
  void shutdown(Deadline deadline) override;

 private:
  struct Group {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<WorkItem> inbox;
    std::thread thread;
    bool exited = false;
  };
  void loop(int g);

  Executor executor_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::atomic<bool> stop_{false};
  mutable std::mutex stop_mu_;
  mutable std::condition_variable stop_cv_;
  std::mutex out_mu_;
  std::condition_variable out_cv_;
  std::deque<WorkResult> outbox_;
  bool shut_down_ = false;
};

}  // namespace t2
