// The scheduler with real threads as worker groups (ThreadTransport): each group runs a test
// executor with chosen delays, failures and hangs. The assertions are on what the groups actually
// executed (recorded by the executor), not on the scheduler's own account of it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "coordinator/item-heartbeat.h"
#include "coordinator/scheduler.h"
#include "coordinator/work-batches.h"
#include "coordinator/work-steps.h"
#include "coordinator/work-transport-threads.h"
#include "core/error.h"

namespace t2 {
namespace {

using namespace std::chrono_literals;

struct Execution {
  int group;
  std::string job, model;
  uint64_t index;
  int attempt;
  uint64_t start_seq, end_seq;
  bool hung = false;
};

// Records every execution with a global sequence number at its start and end.
struct Recorder {
  std::mutex mu;
  std::vector<Execution> runs;
  std::atomic<uint64_t> seq{0};
  std::vector<Execution> all() {
    std::lock_guard<std::mutex> l(mu);
    return runs;
  }
};

struct Behaviour {
  Seconds delay{0.002};
  Seconds load_delay{0};
  // Returns "throw", "hang" or "" for an item on a group.
  std::function<std::string(const WorkItem&, int group)> fault;
};

ThreadTransport::Executor make_executor(Recorder& rec, Behaviour b) {
  return [&rec, b](const WorkItem& item, ThreadTransport::Context& ctx) -> std::string {
    Execution e{ctx.group, item.job, item.model, item.index, item.attempt, rec.seq++, 0};
    if (ctx.loaded_model != item.model && b.load_delay.count() > 0) ctx.sleep_for(b.load_delay);
    const std::string fault = b.fault ? b.fault(item, ctx.group) : "";
    if (fault == "hang") {
      e.hung = true;
      ctx.sleep_for(Seconds(60));  // until the transport shuts down
    } else {
      ctx.sleep_for(b.delay);
    }
    e.end_seq = rec.seq++;
    {
      std::lock_guard<std::mutex> l(rec.mu);
      rec.runs.push_back(e);
    }
    if (fault == "throw") throw std::runtime_error("boom on " + item.job + " #" + std::to_string(item.index));
    return std::to_string(item.index);
  };
}

JobSpec batch_job(const std::string& id, const std::string& model, uint64_t items, std::vector<std::string> deps = {}) {
  return JobSpec{id, "evaluate", model, std::move(deps), std::make_shared<BatchDriver>("eval-batch", items, 1)};
}

std::vector<int> ranks(int n) {
  std::vector<int> r;
  for (int i = 0; i < n; ++i) r.push_back(i + 1);
  return r;
}

const JobStatus& job(const SchedulerSnapshot& s, const std::string& id) {
  for (const auto& j : s.jobs)
    if (j.id == id) return j;
  throw std::runtime_error("no job " + id);
}

TEST(Scheduler, ModelAffinityKeepsGroupsOnTheirModel) {
  Recorder rec;
  Behaviour b;
  b.delay = Seconds(0.002);
  b.load_delay = Seconds(0.02);
  ThreadTransport tr(2, make_executor(rec, b));
  std::vector<JobSpec> jobs;
  // Interleaved in the campaign order: a naive FIFO would switch models on every job.
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(batch_job("a" + std::to_string(i), "model-a", 8));
    jobs.push_back(batch_job("b" + std::to_string(i), "model-b", 8));
  }
  SchedulerOptions opt;
  opt.item_timeout = Seconds(10);
  Scheduler s(std::move(jobs), ranks(2), opt);
  EXPECT_EQ(s.run(tr), 0);
  auto runs = rec.all();
  EXPECT_EQ(runs.size(), 48u);
  // Count the model changes each group actually made, in its own execution order.
  std::map<int, std::vector<Execution>> by_group;
  for (const auto& e : runs) by_group[e.group].push_back(e);
  int loads = 0;
  for (auto& [g, v] : by_group) {
    std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.start_seq < y.start_seq; });
    std::string m;
    for (const auto& e : v)
      if (e.model != m) {
        ++loads;
        m = e.model;
      }
  }
  // Two models on two groups: one load each, plus at most one switch when a group runs out of its
  // model's work and helps with the other.
  EXPECT_LE(loads, 3) << "model loads observed on the groups";
  EXPECT_GE(loads, 2);
  auto snap = s.snapshot();
  EXPECT_EQ(snap.model_loads, loads);
  EXPECT_LE(snap.model_switches, 1);
}

// Waits, with a deadline that only catches hangs, until pred() holds; returns whether it did.
template <class Pred>
bool wait_until(std::mutex& mu, std::condition_variable& cv, Pred pred, Seconds deadline = Seconds(120)) {
  std::unique_lock<std::mutex> l(mu);
  return cv.wait_for(l, deadline, pred);
}

TEST(Scheduler, PullBasedBalancingKeepsEveryGroupBusy) {
  Recorder rec;
  Behaviour b;
  b.delay = Seconds(0.02);
  auto base = make_executor(rec, b);
  // Each group's first item waits until all four groups hold one: the groups provably run at the
  // same time, whatever the machine's speed (no wall-clock comparison).
  std::mutex mu;
  std::condition_variable cv;
  std::set<int> entered;
  ThreadTransport tr(4, [&](const WorkItem& item, ThreadTransport::Context& ctx) {
    bool first = false;
    {
      std::lock_guard<std::mutex> l(mu);
      first = entered.insert(ctx.group).second;
    }
    cv.notify_all();
    if (first) EXPECT_TRUE(wait_until(mu, cv, [&] { return entered.size() == 4; })) << "groups never overlapped";
    return base(item, ctx);
  });
  SchedulerOptions opt;
  opt.item_timeout = Seconds(300);
  Scheduler s({batch_job("eval", "m", 32)}, ranks(4), opt);
  EXPECT_EQ(s.run(tr), 0);
  auto runs = rec.all();
  std::map<int, int> per_group;
  for (const auto& e : runs) ++per_group[e.group];
  ASSERT_EQ(per_group.size(), 4u);
  // Pull-based: every group keeps taking items (a loaded machine may delay one thread a while).
  for (auto [g, n] : per_group) EXPECT_GE(n, 2) << "group " << g << " was starved";
  // Peak concurrency from the recorded start/end order: all four groups worked at the same time.
  std::vector<std::pair<uint64_t, int>> edges;
  for (const auto& e : runs) {
    edges.push_back({e.start_seq, +1});
    edges.push_back({e.end_seq, -1});
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, peak = 0;
  for (auto [seq, d] : edges) peak = std::max(peak, now += d);
  EXPECT_EQ(peak, 4);
}

TEST(Scheduler, SlowGroupGetsFewerItems) {
  Recorder rec;
  Behaviour b;
  b.delay = Seconds(0.002);
  b.fault = nullptr;
  auto base = make_executor(rec, b);
  // Group 0 is slow by construction, not by the clock: each of its items ends only after group 1
  // has finished 5 more (or no work is left for group 1). Pull-based dispatch must then give
  // group 0 at most a sixth of the items.
  constexpr int n_items = 60;
  std::mutex mu;
  std::condition_variable cv;
  int done_by_1 = 0, done_total = 0;
  ThreadTransport tr(2, [&](const WorkItem& item, ThreadTransport::Context& ctx) {
    if (ctx.group == 0) {
      int start;
      {
        std::lock_guard<std::mutex> l(mu);
        start = done_by_1;
      }
      EXPECT_TRUE(wait_until(mu, cv, [&] { return done_by_1 >= start + 5 || done_total >= n_items - 1; }));
    }
    auto r = base(item, ctx);
    {
      std::lock_guard<std::mutex> l(mu);
      ++done_total;
      if (ctx.group == 1) ++done_by_1;
    }
    cv.notify_all();
    return r;
  });
  SchedulerOptions opt;
  opt.item_timeout = Seconds(300);
  Scheduler s({batch_job("eval", "m", n_items)}, ranks(2), opt);
  EXPECT_EQ(s.run(tr), 0);
  std::map<int, int> per_group;
  for (const auto& e : rec.all()) ++per_group[e.group];
  EXPECT_LT(per_group[0] * 3, per_group[1]) << per_group[0] << " vs " << per_group[1];
}

TEST(Scheduler, RetriesAreBoundedAndDependentsSkipped) {
  Recorder rec;
  Behaviour b;
  b.fault = [](const WorkItem& it, int) { return it.job == "bad" && it.index == 2 ? "throw" : ""; };
  ThreadTransport tr(2, make_executor(rec, b));
  std::vector<std::string> incidents;
  std::mutex imu;
  SchedulerOptions opt;
  opt.item_timeout = Seconds(10);
  opt.max_attempts = 3;
  opt.on_incident = [&](const std::string& l) {
    std::lock_guard<std::mutex> g(imu);
    incidents.push_back(l);
  };
  Scheduler s({batch_job("bad", "m", 5), batch_job("after-bad", "m", 3, {"bad"}),
               batch_job("after-after", "m", 3, {"after-bad"}), batch_job("good", "m", 6)},
              ranks(2), opt);
  EXPECT_EQ(s.run(tr), 1);
  int tries = 0;
  for (const auto& e : rec.all()) {
    if (e.job == "bad" && e.index == 2) ++tries;
    EXPECT_NE(e.job, "after-bad") << "a dependent of a failed job ran";
    EXPECT_NE(e.job, "after-after");
  }
  EXPECT_EQ(tries, 3);
  auto snap = s.snapshot();
  EXPECT_EQ(job(snap, "bad").state, JobState::failed);
  EXPECT_NE(job(snap, "bad").reason.find("boom on bad #2"), std::string::npos) << job(snap, "bad").reason;
  EXPECT_NE(job(snap, "bad").reason.find("3 of 3"), std::string::npos);
  EXPECT_EQ(job(snap, "after-bad").state, JobState::skipped);
  EXPECT_NE(job(snap, "after-bad").reason.find("'bad' failed"), std::string::npos);
  EXPECT_EQ(job(snap, "after-after").state, JobState::skipped);
  EXPECT_EQ(job(snap, "good").state, JobState::done);
  EXPECT_EQ(job(snap, "good").units_done, 6u);
  bool saw_exception = false;
  for (const auto& l : incidents) saw_exception |= l.find("worker exception on group") != std::string::npos;
  EXPECT_TRUE(saw_exception);
}

TEST(Scheduler, TransientFailureIsRetriedAndTheJobFinishes) {
  Recorder rec;
  Behaviour b;
  b.fault = [](const WorkItem& it, int) { return it.index == 1 && it.attempt == 1 ? "throw" : ""; };
  ThreadTransport tr(2, make_executor(rec, b));
  SchedulerOptions opt;
  opt.item_timeout = Seconds(10);
  Scheduler s({batch_job("flaky", "m", 4)}, ranks(2), opt);
  EXPECT_EQ(s.run(tr), 0);
  int tries = 0;
  for (const auto& e : rec.all()) tries += e.index == 1;
  EXPECT_EQ(tries, 2);
  EXPECT_EQ(job(s.snapshot(), "flaky").failures, 1);
}

TEST(Scheduler, HungGroupIsReportedAndItsItemRunsElsewhere) {
  Recorder rec;
  Behaviour b;
  b.delay = Seconds(0.005);
  std::atomic<bool> hung_once{false};
  b.fault = [&hung_once](const WorkItem&, int group) -> std::string {
    if (group == 1 && !hung_once.exchange(true)) return "hang";
    return "";
  };
  ThreadTransport tr(2, make_executor(rec, b));
  std::vector<std::string> incidents;
  std::mutex imu;
  SchedulerOptions opt;
  // Long enough that no honest 5 ms item misses it on a loaded machine, far shorter than the hang.
  opt.item_timeout = Seconds(3);
  opt.poll_interval = Seconds(0.05);
  opt.on_incident = [&](const std::string& l) {
    std::lock_guard<std::mutex> g(imu);
    incidents.push_back(l);
  };
  Scheduler s({batch_job("eval-gsm8k", "m", 20)}, ranks(2), opt);
  const auto t0 = Clock::now();
  EXPECT_EQ(s.run(tr), 0);
  const double wall = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  // The hung executor sleeps 60 s: finishing well before that means the deadline cut it.
  EXPECT_LT(wall, 45.0) << "the run waited for the hung item instead of its deadline";

  std::string report;
  for (const auto& l : incidents)
    if (l.find("did not answer") != std::string::npos) report = l;
  ASSERT_FALSE(report.empty()) << "no hang report";
  EXPECT_NE(report.find("group 1 (rank 2)"), std::string::npos) << report;
  EXPECT_NE(report.find("within 3.0 s"), std::string::npos) << report;
  EXPECT_NE(report.find("job eval-gsm8k"), std::string::npos) << report;
  EXPECT_NE(report.find("last request: item"), std::string::npos) << report;

  // The hung item was re-run on group 0 as attempt 2, and every index ran to completion once.
  auto runs = rec.all();
  uint64_t hung_index = UINT64_MAX;
  for (const auto& e : runs)
    if (e.hung) hung_index = e.index;
  ASSERT_NE(hung_index, UINT64_MAX);
  bool rerun = false;
  std::set<uint64_t> completed;
  for (const auto& e : runs) {
    if (!e.hung) completed.insert(e.index);
    if (e.index == hung_index && !e.hung && e.group == 0 && e.attempt == 2) rerun = true;
  }
  EXPECT_TRUE(rerun);
  EXPECT_EQ(completed.size(), 20u);
  auto snap = s.snapshot();
  EXPECT_EQ(snap.groups[1].state, GroupState::unresponsive);
}

// A transport that cannot deliver to group 1 (a dead MPI peer): the item goes elsewhere at once.
class UndeliverableGroup : public WorkTransport {
 public:
  explicit UndeliverableGroup(ThreadTransport& inner) : inner_(inner) {}
  int groups() const override { return inner_.groups(); }
  int group_rank(int g) const override { return inner_.group_rank(g); }
  void send(int g, const WorkItem& item) override {
    if (g == 1) throw TimeoutError("send to rank 2: deadline of 1 s passed");
    inner_.send(g, item);
  }
  std::optional<WorkResult> poll(Deadline d) override { return inner_.poll(d); }
  void shutdown(Deadline d) override { inner_.shutdown(d); }

 private:
  ThreadTransport& inner_;
};

TEST(Scheduler, SendFailureRequeuesAtOnce) {
  Recorder rec;
  ThreadTransport threads(2, make_executor(rec, Behaviour{}));
  UndeliverableGroup tr(threads);
  std::vector<std::string> incidents;
  SchedulerOptions opt;
  opt.item_timeout = Seconds(600);  // must not be waited for
  opt.on_incident = [&](const std::string& l) { incidents.push_back(l); };
  Scheduler s({batch_job("e", "m", 6)}, ranks(2), opt);
  const auto t0 = Clock::now();
  EXPECT_EQ(s.run(tr), 0);
  EXPECT_LT(std::chrono::duration_cast<Seconds>(Clock::now() - t0).count(), 300.0) << "waited for the item deadline";
  for (const auto& e : rec.all()) EXPECT_EQ(e.group, 0);
  EXPECT_EQ(rec.all().size(), 6u);
  ASSERT_FALSE(incidents.empty());
  EXPECT_NE(incidents[0].find("group 1 (rank 2) could not be sent its request"), std::string::npos) << incidents[0];
  EXPECT_EQ(s.snapshot().groups[1].state, GroupState::unresponsive);
}

TEST(Scheduler, NoResponsiveGroupFailsInsteadOfHanging) {
  Recorder rec;
  Behaviour b;
  b.fault = [](const WorkItem&, int) { return "hang"; };
  ThreadTransport tr(1, make_executor(rec, b));
  SchedulerOptions opt;
  opt.item_timeout = Seconds(0.2);
  opt.poll_interval = Seconds(0.05);
  Scheduler s({batch_job("e", "m", 3), batch_job("next", "m", 1, {"e"})}, ranks(1), opt);
  const auto t0 = Clock::now();
  EXPECT_EQ(s.run(tr), 1);
  // The hung executors sleep 60 s: ending well before means the deadlines cut them.
  EXPECT_LT(std::chrono::duration_cast<Seconds>(Clock::now() - t0).count(), 45.0);
  auto snap = s.snapshot();
  EXPECT_EQ(job(snap, "e").state, JobState::failed);
  EXPECT_NE(job(snap, "e").reason.find("no responsive worker group left"), std::string::npos) << job(snap, "e").reason;
  EXPECT_EQ(job(snap, "next").state, JobState::skipped);
}

TEST(Scheduler, DependencyOrderAndStepBarriers) {
  Recorder rec;
  Behaviour b;
  b.delay = Seconds(0.003);
  ThreadTransport tr(3, make_executor(rec, b));
  // A REINFORCE-like job: 4 steps over 3 shards; each shard "returns its gradient" (index + 1) and the
  // coordinator sums them per step, as it would sum z-gradients before the Adam step.
  std::vector<int64_t> step_sums;
  auto train = std::make_shared<StepDriver>(
      "reinforce-shard", 4, 3, 8, nullptr, [&](uint64_t step, const std::vector<WorkResult>& by_shard) {
        int64_t sum = 0;
        for (const auto& r : by_shard) sum += std::stoll(r.payload) + 1;
        step_sums.push_back(sum);
        return nlohmann::json{{"step", step}, {"sum", sum}};
      });
  std::vector<JobSpec> jobs = {
      batch_job("decompose", "m", 2),
      JobSpec{"train", "train-expert", "m", {"decompose"}, train},
      batch_job("eval-a", "m", 5, {"train"}),
      batch_job("eval-b", "m", 5, {"train", "decompose"}),
      batch_job("report", "m", 1, {"eval-a", "eval-b"}),
  };
  SchedulerOptions opt;
  opt.item_timeout = Seconds(10);
  Scheduler s(std::move(jobs), ranks(3), opt);
  EXPECT_EQ(s.run(tr), 0);
  auto runs = rec.all();
  auto first_start = [&](const std::string& j) {
    uint64_t v = UINT64_MAX;
    for (const auto& e : runs)
      if (e.job == j) v = std::min(v, e.start_seq);
    return v;
  };
  auto last_end = [&](const std::string& j) {
    uint64_t v = 0;
    for (const auto& e : runs)
      if (e.job == j) v = std::max(v, e.end_seq);
    return v;
  };
  EXPECT_GT(first_start("train"), last_end("decompose"));
  EXPECT_GT(first_start("eval-a"), last_end("train"));
  EXPECT_GT(first_start("eval-b"), last_end("train"));
  EXPECT_GT(first_start("report"), std::max(last_end("eval-a"), last_end("eval-b")));
  // Step barriers: no shard of step s+1 starts before every shard of step s ended.
  for (uint64_t step = 0; step + 1 < 4; ++step) {
    uint64_t end = 0, next_start = UINT64_MAX;
    for (const auto& e : runs) {
      if (e.job != "train") continue;
      if (e.index / 3 == step) end = std::max(end, e.end_seq);
      if (e.index / 3 == step + 1) next_start = std::min(next_start, e.start_seq);
    }
    EXPECT_GT(next_start, end) << "step " << step;
  }
  // Step s's shard indices are 3s, 3s+1, 3s+2: the sum of (index + 1) is 9s + 6.
  ASSERT_EQ(step_sums.size(), 4u);
  for (int64_t st = 0; st < 4; ++st) EXPECT_EQ(step_sums[st], 9 * st + 6);
  EXPECT_EQ(job(s.snapshot(), "train").units_done, 4u * 3 * 8);
}

TEST(Scheduler, RejectsBadGraphsByName) {
  try {
    Scheduler s({batch_job("train", "m", 1), batch_job("eval", "m", 1, {"trian"})}, ranks(1));
    FAIL() << "unknown dependency accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("job 'eval' depends on unknown job 'trian'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'train'"), std::string::npos) << e.what();
  }
  try {
    Scheduler s({batch_job("a", "m", 1, {"c"}), batch_job("b", "m", 1, {"a"}), batch_job("c", "m", 1, {"b"})},
                ranks(1));
    FAIL() << "cycle accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("dependency cycle: a -> c -> b -> a"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Scheduler({batch_job("a", "m", 1), batch_job("a", "m", 1)}, ranks(1)), UsageError);
}

// The event interface without threads: the same order of results gives the same dispatches, and a
// deadline is reported with the group, rank, job and request.
std::vector<std::string> scripted_run(uint64_t seed, std::string* deadline_report) {
  std::vector<JobSpec> jobs = {batch_job("a", "m1", 7), batch_job("b", "m2", 5), batch_job("c", "m1", 4, {"a"}),
                               batch_job("d", "m2", 3, {"b", "c"})};
  SchedulerOptions opt;
  opt.item_timeout = Seconds(5);
  opt.record_dispatches = true;
  std::vector<std::string> incidents;
  Scheduler s(std::move(jobs), {1, 3, 5}, opt);
  Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);
  std::vector<WorkItem> flying;
  uint64_t x = seed;
  bool timed_out = false;
  for (int turn = 0; turn < 200 && !s.finished(); ++turn) {
    for (int g = 0; g < 3; ++g)
      if (auto it = s.assign(g, t)) flying.push_back(*it);
    if (flying.empty()) break;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const size_t pick = (x >> 33) % flying.size();
    WorkItem it = flying[pick];
    flying.erase(flying.begin() + static_cast<long>(pick));
    if (!timed_out && it.job == "b" && it.index == 2) {  // this one never answers
      timed_out = true;
      int g = -1;
      for (const auto& gs : s.snapshot().groups)
        if (gs.current.find("item " + std::to_string(it.id) + " ") == 0) g = gs.group;
      t += std::chrono::seconds(6);
      auto overdue = s.overdue_groups(t);
      EXPECT_EQ(overdue.size(), 1u + flying.size());
      s.on_deadline(g, t);
      for (const auto& l : s.snapshot().incidents)
        if (l.find("did not answer") != std::string::npos) *deadline_report = l;
      // The other items in flight were sent before the jump too: answer them now.
      continue;
    }
    WorkResult r;
    r.item_id = it.id;
    r.ok = !(it.job == "c" && it.index == 1 && it.attempt == 1);
    r.error = r.ok ? "" : "scripted failure";
    s.on_result(r, t);
  }
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.exit_code(), 0);
  return s.dispatch_log();
}

TEST(Scheduler, SameEventOrderGivesSameDispatches) {
  std::string report1, report2;
  auto a = scripted_run(7, &report1);
  auto b = scripted_run(7, &report2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(report1, report2);
  EXPECT_NE(report1.find("did not answer within 6.0 s: hung"), std::string::npos) << report1;
  EXPECT_NE(report1.find("job b, item #2 dispatched"), std::string::npos) << report1;
  EXPECT_NE(report1.find("(rank "), std::string::npos) << report1;
  auto c = scripted_run(11, &report2);
  EXPECT_EQ(c.size(), a.size()) << "a different order still runs every item once plus the same retries";
}

// Deadlines per kind of work and heartbeats: a group that works longer than its item's deadline but
// signs of life (ItemHeartbeat, every item.heartbeat_seconds) is never taken for hung; a silent one is,
// after its own kind's deadline (not another kind's), with the group, rank, job and item in the report.
TEST(Scheduler, SlowGroupThatBeatsIsNotHungASilentOneIsAfterItsKindsDeadline) {
  std::atomic<int> slow_done{0};
  ThreadTransport tr(2, [&](const WorkItem& item, ThreadTransport::Context& ctx) -> std::string {
    if (item.job == "silent") {
      ctx.sleep_for(Seconds(60));  // no heartbeat: stopped, as far as rank 0 can tell
      return "late";
    }
    ItemHeartbeat beat(Seconds(item.heartbeat_seconds), [&ctx] { ctx.heartbeat(); });
    ctx.sleep_for(Seconds(3));     // three times its deadline
    ++slow_done;
    return "slow";
  });
  SchedulerOptions opt;
  opt.item_timeout = Seconds(600);  // must not be the one used
  opt.item_deadline = [](const std::string& job_kind, const std::string&) {
    return job_kind == "decompose" ? Seconds(1.5) : Seconds(1.0);
  };
  opt.max_attempts = 1;
  opt.poll_interval = Seconds(0.05);
  std::vector<JobSpec> jobs = {
      JobSpec{"slow", "evaluate", "m", {}, std::make_shared<BatchDriver>("generate", 2, 1)},
      JobSpec{"silent", "decompose", "m", {}, std::make_shared<BatchDriver>("decompose", 1, 1)},
  };
  Scheduler s(std::move(jobs), ranks(2), opt);
  const auto t0 = Clock::now();
  EXPECT_EQ(s.run(tr), 1);
  EXPECT_LT(std::chrono::duration_cast<Seconds>(Clock::now() - t0).count(), 45.0);  // only catches a hang
  auto snap = s.snapshot();
  EXPECT_EQ(job(snap, "slow").state, JobState::done) << job(snap, "slow").reason;
  EXPECT_EQ(job(snap, "slow").failures, 0);
  EXPECT_EQ(slow_done.load(), 2);
  EXPECT_EQ(job(snap, "silent").state, JobState::failed);
  const std::string& why = job(snap, "silent").reason;
  EXPECT_NE(why.find("did not answer within"), std::string::npos) << why;
  EXPECT_NE(why.find("a decompose item of a decompose job; job silent, item #0"), std::string::npos) << why;
  EXPECT_NE(why.find("(rank "), std::string::npos) << why;
  // the silence it reports is the decompose deadline (1.5 s), not the other kind's (1.0 s)
  const auto at = why.find("did not answer within ") + 22;
  const double silence = std::stod(why.substr(at));
  EXPECT_GE(silence, 1.5) << why;
  int beats = 0, lost = 0;
  for (const auto& g : snap.groups) {
    beats += static_cast<int>(g.heartbeats);
    lost += g.state == GroupState::unresponsive;
  }
  EXPECT_GE(beats, 4) << "the slow items must have been kept alive by heartbeats";
  EXPECT_EQ(lost, 1);
  for (const auto& line : snap.incidents) EXPECT_EQ(line.find("job slow"), std::string::npos) << line;
}

// Groups of several degrees (a campaign with a 70B at tp 8 and 8B models at tp 1, one coordinator):
// a job runs only on groups of its model's degree, with real threads as the groups; every item runs.
TEST(Scheduler, JobsRunOnlyOnGroupsOfTheirModelsDegree) {
  Recorder rec;
  ThreadTransport tr(4, make_executor(rec, {}));
  std::vector<JobSpec> jobs{batch_job("big-eval", "big", 6), batch_job("small-eval", "small", 12),
                            batch_job("small-eval2", "small", 5, {"big-eval"}), batch_job("other", "other", 3)};
  jobs[0].tp = 8;
  jobs[1].tp = 1;
  jobs[2].tp = 1;
  jobs[3].tp = 0;  // no degree: any group
  SchedulerOptions o;
  o.group_tp = {8, 1, 1, 1};
  Scheduler s(std::move(jobs), {1, 9, 10, 11}, o);
  ASSERT_EQ(s.run(tr), 0);
  std::map<std::string, int> items;
  for (const auto& e : rec.all()) {
    ++items[e.job];
    if (e.model == "big") EXPECT_EQ(e.group, 0) << e.job << " #" << e.index << " ran on a tp-1 group";
    if (e.model == "small") EXPECT_NE(e.group, 0) << e.job << " #" << e.index << " ran on the tp-8 group";
  }
  EXPECT_EQ(items["big-eval"], 6);
  EXPECT_EQ(items["small-eval"], 12);
  EXPECT_EQ(items["small-eval2"], 5);
  EXPECT_EQ(items["other"], 3);
  const auto snap = s.snapshot();
  EXPECT_EQ(snap.groups[0].tp, 8);
  EXPECT_EQ(snap.groups[1].tp, 1);
  EXPECT_EQ(scheduler_snapshot_json(snap)["groups"][0]["tp"], 8);
  EXPECT_NE(snap.groups[0].model, "small");  // the TP-8 group never loads a tp-1 model ("other" has no degree)

  // a job whose degree no group has is refused up front, naming it
  std::vector<JobSpec> bad{batch_job("huge", "huge", 1)};
  bad[0].tp = 4;
  SchedulerOptions ob;
  ob.group_tp = {8, 1};
  try {
    Scheduler x(std::move(bad), {1, 9}, ob);
    ADD_FAILURE() << "a tp-4 job with groups of tp 8 and 1 was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("job 'huge' needs a worker group of tp 4"), std::string::npos) << e.what();
  }
}

// A driver whose next() or complete() blocks until another thread has taken a snapshot(): the status
// server's snapshot must come back while the driver builds a payload or records a result (both run off
// the scheduler's lock). Were they under it, the snapshot would wait and the driver would give up after
// its bound (30 s), and the flag below would say so.
class BlockingDriver : public BatchDriver {
 public:
  BlockingDriver(std::atomic<int>* in_driver, std::atomic<bool>* snapshot_taken, bool block_next)
      : BatchDriver("eval-batch", 3, 1), in_driver_(in_driver), taken_(snapshot_taken), block_next_(block_next) {}
  std::optional<WorkSpec> next() override {
    if (block_next_) wait();
    return BatchDriver::next();
  }
  void complete(const WorkSpec& spec, const WorkResult& r) override {
    if (!block_next_) wait();
    BatchDriver::complete(spec, r);
  }
  bool unblocked_by_snapshot = true;

 private:
  void wait() {
    if (taken_->load()) return;  // once per test
    ++*in_driver_;
    const auto until = Clock::now() + 30s;
    while (!taken_->load() && Clock::now() < until) std::this_thread::sleep_for(1ms);
    if (!taken_->load()) unblocked_by_snapshot = false;
  }
  std::atomic<int>* in_driver_;
  std::atomic<bool>* taken_;
  bool block_next_;
};

TEST(Scheduler, SnapshotsNeverWaitForADriversPayloadOrRecordWrite) {
  for (bool block_next : {true, false}) {
    SCOPED_TRACE(block_next ? "next() blocks" : "complete() blocks");
    std::atomic<int> in_driver{0};
    std::atomic<bool> taken{false};
    auto driver = std::make_shared<BlockingDriver>(&in_driver, &taken, block_next);
    Recorder rec;
    ThreadTransport tr(1, make_executor(rec, {}));
    Scheduler s({JobSpec{"j", "evaluate", "m", {}, driver}}, {1});
    std::thread status([&] {
      while (in_driver.load() == 0) std::this_thread::sleep_for(1ms);
      const auto snap = s.snapshot();  // while the driver is inside next()/complete()
      EXPECT_EQ(snap.jobs.size(), 1u);
      taken = true;
    });
    EXPECT_EQ(s.run(tr), 0);
    status.join();
    EXPECT_TRUE(driver->unblocked_by_snapshot) << "the snapshot waited for the driver (driver call under the lock)";
    EXPECT_EQ(rec.all().size(), 3u);
    EXPECT_EQ(s.snapshot().jobs[0].units_done, 3u);
  }
}

}  // namespace
}  // namespace t2
