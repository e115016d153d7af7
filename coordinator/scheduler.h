// The campaign scheduler: a DAG of jobs, each split into work items by its driver, run on worker
// groups through a WorkTransport. Rules (docs/coordinator.md has the full list):
//   - dependencies: a job starts when every job it depends on is done; when one failed or was
//     skipped, the job is skipped with the reason, and so are its own dependents;
//   - pull-based balancing: a group gets its next item when it returns one (or is idle);
//   - model affinity: a group takes items for the model it has loaded; it switches only when no job
//     of that model can still produce work, and then to the model with work that the fewest groups
//     have loaded (ties: the earliest job). Both questions are answered from an index of the jobs
//     that may still produce work, per model, so a request costs O(models + groups), not O(jobs);
//   - group sizes: with groups of several tensor-parallel degrees (a campaign whose models differ in
//     size, SchedulerOptions::group_tp), a job with a degree (JobSpec::tp) runs only on groups of
//     that degree;
//   - deadlines per kind of work (SchedulerOptions::item_deadline; coordinator/work-deadlines.h): an
//     item's deadline runs from its dispatch (plus load_timeout when the group must load its model)
//     and every heartbeat of the busy group restarts it, so a slow group that is alive is never taken
//     for hung; an item whose group stays silent for its kind's deadline is reported with the group,
//     its rank, the job and the request, the group is marked unresponsive, and the item is requeued;
//   - bounded retries: an item that failed (worker exception or deadline) max_attempts times fails
//     its job; the other jobs go on. The exit code is 0 only when every job finished.
// The decisions depend only on the order of events (results, deadlines) and never on timing
// otherwise, so a run is reproducible from its event order.
// Threads: the event methods (assign, on_result, on_heartbeat, on_deadline, on_send_failure,
// resolve_stalls, run) are called from one thread, the coordinator's loop; the readers (snapshot,
// finished, exit_code, unresponsive_groups, dispatch_log) from any thread, e.g. the status server.
// The scheduler's lock guards only the scheduler's own tables: a driver's next() (payloads built,
// files read) and complete() (records written to HDF5) run with it released, under the job's own
// driver lock; snapshot() reads a job's progress under that lock when it is free, and otherwise
// reports the progress it read last time (one result behind), so it never waits for a write.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/work-driver.h"
#include "coordinator/work-transport.h"
#include "core/deadline.h"

namespace t2 {

struct JobSpec {
  std::string id;
  std::string kind;                  // "decompose", "train-expert", "few-shot-search", "evaluate", ...
  std::string model;
  std::vector<std::string> deps;
  std::shared_ptr<JobDriver> driver;
  int max_attempts = 0;              // per item; 0: SchedulerOptions::max_attempts
  int tp = 0;                        // runs only on groups of this degree (SchedulerOptions::group_tp); 0: any
};

enum class JobState { waiting, ready, running, done, failed, skipped };
enum class GroupState { idle, busy, unresponsive };
const char* job_state_name(JobState s);
const char* group_state_name(GroupState s);

struct SchedulerOptions {
  Seconds item_timeout = timeouts::control_message;  // one item's deadline, when item_deadline is unset
  // The deadline of one item by the kind of its job and its own kind ("evaluate", "generate").
  std::function<Seconds(const std::string& job_kind, const std::string& item_kind)> item_deadline;
  Seconds load_timeout{0};                           // added when the item makes its group load a model
  // Busy groups send a heartbeat every heartbeat_fraction x the item's deadline (0: none asked for).
  double heartbeat_fraction = 0.25;
  int max_attempts = 3;
  Seconds poll_interval{0.25};                       // how often run() wakes without results
  Seconds shutdown_timeout{10};
  bool record_dispatches = false;                    // keep dispatch_log() (tests, debugging)
  // The tensor-parallel degree of each group (empty: every group takes every job).
  std::vector<int> group_tp;
  // Called (under no lock) for every incident line: hung group, worker exception, failed job.
  std::function<void(const std::string&)> on_incident;
  // Called once per loop turn of run(), e.g. to redraw progress.
  std::function<void()> on_tick;
};

struct JobStatus {
  std::string id, kind, model;
  JobState state = JobState::waiting;
  uint64_t units_done = 0, units_total = 0;
  int in_flight = 0;
  int failures = 0;                  // failed attempts so far (exceptions and deadlines)
  std::string reason;                // why it failed or was skipped
  nlohmann::json metrics;
};

struct GroupStatus {
  int group = 0, rank = 0;
  int tp = 0;                        // the group's degree (0: not given; it takes every job)
  GroupState state = GroupState::idle;
  std::string model;                 // loaded model ("" before the first item)
  std::string current;               // the request in flight, else the last one
  uint64_t items_done = 0;
  int model_loads = 0;
  double busy_seconds = 0;
  uint64_t heartbeats = 0;
  double longest_item_seconds = 0;   // dispatch to result, the longest answered item
};

struct SchedulerSnapshot {
  std::vector<JobStatus> jobs;
  std::vector<GroupStatus> groups;
  std::vector<std::string> incidents;  // the most recent ones
  int model_loads = 0, model_switches = 0;
  uint64_t items_dispatched = 0, items_completed = 0;
  bool finished = false;
  double elapsed_seconds = 0;
  // How long the scheduler's lock was held (every public call takes it): count, mean, maximum.
  uint64_t lock_holds = 0;
  double lock_hold_mean_us = 0, lock_hold_max_us = 0;
};

nlohmann::json scheduler_snapshot_json(const SchedulerSnapshot& s);

class Scheduler {
 public:
  // Throws UsageError naming the job for duplicate ids, unknown dependencies and cycles.
  // `group_ranks[g]` is group g's first world rank (used in reports).
  Scheduler(std::vector<JobSpec> jobs, std::vector<int> group_ranks, SchedulerOptions options = {});

  // Runs until every job is done, failed or skipped; returns the exit code (0: all done, 1: not).
  // Never waits without a bound: every poll has a deadline and a campaign with work left but no
  // responsive group fails the remaining jobs instead of waiting.
  int run(WorkTransport& transport);

  // --- the event interface run() is built on (also used directly by tests) ---
  // The next item for an idle group, or nullopt when it should wait.
  std::optional<WorkItem> assign(int group, Clock::time_point now);
  void on_result(const WorkResult& result, Clock::time_point now);
  // A sign of life of the group working on `item_id`: its deadline starts again from `now`.
  void on_heartbeat(int group, uint64_t item_id, Clock::time_point now);
  // Group `group`'s item passed its deadline: report, mark the group unresponsive, requeue.
  void on_deadline(int group, Clock::time_point now);
  // The transport could not deliver group `group`'s item: treated like a missed deadline (reported,
  // group unresponsive, item requeued) without waiting for it.
  void on_send_failure(int group, const std::string& why);
  // Groups whose in-flight item's deadline is at or before `now`.
  std::vector<int> overdue_groups(Clock::time_point now) const;
  // Fails jobs that can never make progress (no responsive group, or a driver with nothing to give and
  // nothing in flight); returns true when it changed anything.
  bool resolve_stalls();

  bool finished() const;
  int exit_code() const;
  // Worker groups declared hung or unreachable so far (cheap: for a check on every tick).
  int unresponsive_groups() const;
  SchedulerSnapshot snapshot() const;
  // "g1 <- item 4 job a #3 attempt 1" per dispatch, in order, when options.record_dispatches.
  std::vector<std::string> dispatch_log() const;

 public:
  // A driver's own lock, and the progress it showed last (what snapshot() reports while the driver is
  // busy recording a result, so that the status server never waits for a write).
  struct DriverLock {
    std::mutex mu;
    std::mutex last_mu;
    uint64_t units_done = 0, units_total = 0;
    nlohmann::json metrics;
  };

 private:
  struct Job {
    JobSpec spec;
    JobState state = JobState::waiting;
    std::vector<int> deps;                          // indices
    std::vector<int> dependents;                    // indices of the jobs that depend on this one
    size_t deps_left = 0;                           // dependencies not done yet
    std::deque<std::pair<WorkSpec, int>> queue;     // ready specs with their next attempt number
    int in_flight = 0;
    int failures = 0;
    std::string reason;
    std::shared_ptr<DriverLock> driver_mu = std::make_shared<DriverLock>();
  };
  struct Group {
    int rank = 0;
    int tp = 0;                                     // 0: takes every job
    GroupState state = GroupState::idle;
    std::string model;
    std::string last_request;
    uint64_t current_item = 0;
    uint64_t items_done = 0;
    int model_loads = 0;
    double busy_seconds = 0;
    uint64_t heartbeats = 0;
    double longest_item_seconds = 0;
  };
  struct InFlight {
    int job = -1;
    int group = -1;
    WorkSpec spec;
    int attempt = 1;
    Clock::time_point sent, deadline, last_sign;
    Seconds timeout{0};                             // the item's kind deadline
    WorkItem item;
  };

  class HeldLock;
  bool fill(int j);                   // pulls one spec from the driver into the job's queue (lock released)
  bool job_has_work(int j);
  bool model_may_get_work(const std::string& model);
  int pick_job(const std::string& model);
  void make_ready(int j);             // waiting -> ready, indexed, settled
  void settle(int j);                 // done when its driver is done and nothing is queued or in flight
  void finish(int j, JobState s);     // terminal: out of the index, dependents released or skipped
  void reopen(int j);                 // a retry was queued: the job may produce work again
  void fail_job(int j, const std::string& reason);
  void incident(const std::string& line);
  void item_failed(const InFlight& f, const std::string& why);
  void lose_group(int group, const std::string& why);  // under the lock
  int attempts_for(const Job& j) const;
  bool finished_locked() const;
  bool group_takes(int g, const std::string& model) const;
  std::string group_name(int g) const;

  // The lock with its hold times measured (two clock reads per hold); released around driver calls.
  class HeldLock {
   public:
    explicit HeldLock(const Scheduler& s) : s_(s), lock_(s.mu_), t0_(Clock::now()) { s_.held_ = this; }
    ~HeldLock() {
      s_.held_ = nullptr;
      record();
    }
    // Runs f with the lock released (the hold so far is recorded; a new one starts after).
    template <typename F>
    auto released(F&& f) -> decltype(f()) {
      s_.held_ = nullptr;
      record();
      lock_.unlock();
      struct Relock {
        HeldLock& h;
        ~Relock() {
          h.lock_.lock();
          h.t0_ = Clock::now();
          h.s_.held_ = &h;
        }
      } relock{*this};
      return f();
    }

   private:
    void record() {
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0_).count();
      ++s_.lock_holds_;
      s_.lock_hold_total_us_ += us;
      if (us > s_.lock_hold_max_us_) s_.lock_hold_max_us_ = us;
    }
    const Scheduler& s_;
    std::unique_lock<std::mutex> lock_;
    Clock::time_point t0_;
  };
  mutable HeldLock* held_ = nullptr;              // the current hold (for released())
  mutable std::mutex mu_;
  mutable uint64_t lock_holds_ = 0;
  mutable double lock_hold_total_us_ = 0, lock_hold_max_us_ = 0;
  SchedulerOptions opt_;
  std::vector<Job> jobs_;
  std::vector<Group> groups_;
  std::map<uint64_t, InFlight> in_flight_;
  // Jobs that are ready or running and may still produce work (a queued spec, or a driver not
  // exhausted), by model, in job order: what model affinity and switches look at.
  std::map<std::string, std::set<int>> open_;
  size_t terminal_jobs_ = 0;
  std::map<std::string, int> model_tp_;  // the degree of each model's jobs (JobSpec::tp), when given
  std::vector<std::string> incidents_;
  std::vector<std::string> pending_incidents_;  // handed to on_incident outside the lock
  std::vector<std::string> dispatch_log_;
  uint64_t next_item_id_ = 1, items_completed_ = 0;
  int model_loads_ = 0, model_switches_ = 0;
  Clock::time_point started_ = Clock::now();
};

}  // namespace t2
