#include "coordinator/scheduler.h"

#include <algorithm>
#include <climits>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.h"
#include "core/names.h"

namespace t2 {

namespace {
constexpr size_t kIncidentsKept = 200;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<Seconds>(b - a).count();
}

// A call into a job's driver under the driver's own lock (snapshot() reads progress under it).
template <typename D, typename F>
auto with_driver(const std::shared_ptr<Scheduler::DriverLock>& lock, D& driver, F&& f) -> decltype(f(*driver)) {
  std::lock_guard<std::mutex> held(lock->mu);
  return f(*driver);
}
}  // namespace

std::string WorkItem::describe() const {
  return fmt::format("item {} (job {}, {} #{}, attempt {}, model {})", id, job, kind, index, attempt, model);
}

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::waiting: return "waiting";
    case JobState::ready: return "ready";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    case JobState::skipped: return "skipped";
  }
  return "?";
}

const char* group_state_name(GroupState s) {
  switch (s) {
    case GroupState::idle: return "idle";
    case GroupState::busy: return "busy";
    case GroupState::unresponsive: return "unresponsive";
  }
  return "?";
}

static bool terminal(JobState s) { return s == JobState::done || s == JobState::failed || s == JobState::skipped; }

Scheduler::Scheduler(std::vector<JobSpec> jobs, std::vector<int> group_ranks, SchedulerOptions options)
    : opt_(std::move(options)) {
  T2_CHECK_AS(UsageError, !group_ranks.empty(), "the scheduler needs at least one worker group");
  T2_CHECK_AS(UsageError, opt_.max_attempts >= 1, "max_attempts must be at least 1, got {}", opt_.max_attempts);
  std::map<std::string, int> index;
  std::vector<std::string> ids;
  for (auto& spec : jobs) {
    T2_CHECK_AS(UsageError, !spec.id.empty(), "a job without an id (kind '{}')", spec.kind);
    T2_CHECK_AS(UsageError, !index.count(spec.id), "job id '{}' appears twice", spec.id);
    T2_CHECK_AS(UsageError, spec.driver != nullptr, "job '{}' has no driver", spec.id);
    index[spec.id] = static_cast<int>(jobs_.size());
    ids.push_back(spec.id);
    Job j;
    j.spec = std::move(spec);
    jobs_.push_back(std::move(j));
  }
  for (auto& j : jobs_)
    for (const auto& d : j.spec.deps) {
      auto it = index.find(d);
      if (it == index.end())
        throw UsageError("job '" + j.spec.id + "' depends on unknown job '" + d + "': " + suggest(d, ids));
      T2_CHECK_AS(UsageError, it->second != index[j.spec.id], "job '{}' depends on itself", j.spec.id);
      j.deps.push_back(it->second);
    }
  // Cycle check: depth-first with colours; the message shows the cycle.
  std::vector<int> colour(jobs_.size(), 0), stack;
  std::function<void(int)> visit = [&](int v) {
    colour[v] = 1;
    stack.push_back(v);
    for (int d : jobs_[v].deps) {
      if (colour[d] == 1) {
        std::string cyc;
        auto from = std::find(stack.begin(), stack.end(), d);
        for (auto it = from; it != stack.end(); ++it) cyc += jobs_[*it].spec.id + " -> ";
        throw UsageError("dependency cycle: " + cyc + jobs_[d].spec.id);
      }
      if (colour[d] == 0) visit(d);
    }
    stack.pop_back();
    colour[v] = 2;
  };
  for (size_t v = 0; v < jobs_.size(); ++v)
    if (colour[v] == 0) visit(static_cast<int>(v));

  T2_CHECK_AS(UsageError, opt_.group_tp.empty() || opt_.group_tp.size() == group_ranks.size(),
              "the scheduler has {} worker groups but {} group degrees", group_ranks.size(), opt_.group_tp.size());
  for (size_t i = 0; i < group_ranks.size(); ++i) {
    Group g;
    g.rank = group_ranks[i];
    g.tp = opt_.group_tp.empty() ? 0 : opt_.group_tp[i];
    groups_.push_back(g);
  }
  for (size_t j = 0; j < jobs_.size(); ++j) {
    Job& J = jobs_[j];
    J.deps_left = J.deps.size();
    for (int d : J.deps) jobs_[d].dependents.push_back(static_cast<int>(j));
    if (J.spec.tp > 0) {
      auto [it, fresh] = model_tp_.emplace(J.spec.model, J.spec.tp);
      T2_CHECK_AS(UsageError, fresh || it->second == J.spec.tp, "job '{}': model '{}' with tp {}, but another job of "
                  "that model has tp {}", J.spec.id, J.spec.model, J.spec.tp, it->second);
      bool any = opt_.group_tp.empty();
      for (int t : opt_.group_tp) any = any || t == J.spec.tp;
      T2_CHECK_AS(UsageError, any, "job '{}' needs a worker group of tp {} (model '{}'), and there is none (groups "
                  "of tp {})", J.spec.id, J.spec.tp, J.spec.model, fmt::join(opt_.group_tp, ", "));
    }
  }
  HeldLock lock(*this);
  for (size_t j = 0; j < jobs_.size(); ++j)
    if (jobs_[j].state == JobState::waiting && jobs_[j].deps_left == 0) make_ready(static_cast<int>(j));
}

std::string Scheduler::group_name(int g) const { return fmt::format("group {} (rank {})", g, groups_[g].rank); }

int Scheduler::attempts_for(const Job& j) const {
  return j.spec.max_attempts > 0 ? j.spec.max_attempts : opt_.max_attempts;
}

void Scheduler::incident(const std::string& line) {
  incidents_.push_back(line);
  if (incidents_.size() > kIncidentsKept) incidents_.erase(incidents_.begin());
  pending_incidents_.push_back(line);
}

void Scheduler::fail_job(int j, const std::string& reason) {
  Job& job = jobs_[j];
  if (terminal(job.state)) return;
  job.reason = reason;
  incident(fmt::format("job {} failed: {}", job.spec.id, reason));
  finish(j, JobState::failed);
}

bool Scheduler::group_takes(int g, const std::string& model) const {
  const int t = groups_[g].tp;
  if (t == 0) return true;
  auto it = model_tp_.find(model);
  return it == model_tp_.end() || it->second == t;
}

void Scheduler::make_ready(int j) {
  Job& J = jobs_[j];
  J.state = JobState::ready;
  open_[J.spec.model].insert(j);
  settle(j);
}

void Scheduler::reopen(int j) {
  if (!terminal(jobs_[j].state)) open_[jobs_[j].spec.model].insert(j);
}

void Scheduler::settle(int j) {
  Job& J = jobs_[j];
  if ((J.state != JobState::ready && J.state != JobState::running) || J.in_flight != 0 || !J.queue.empty()) return;
  bool done = false;
  try {
    done = with_driver(J.driver_mu, J.spec.driver, [](JobDriver& d) { return d.done(); });
  } catch (const std::exception& e) {
    fail_job(j, std::string("its driver failed: ") + e.what());
    return;
  }
  if (done) finish(j, JobState::done);
}

// Event-driven: a job that ends releases (or skips) only its own dependents, never a pass over all jobs.
void Scheduler::finish(int j0, JobState s0) {
  if (terminal(jobs_[j0].state)) return;
  std::deque<int> ended;
  auto close = [&](int j, JobState s) {
    Job& J = jobs_[j];
    J.state = s;
    J.queue.clear();
    auto it = open_.find(J.spec.model);
    if (it != open_.end()) it->second.erase(j);
    ++terminal_jobs_;
    ended.push_back(j);
  };
  close(j0, s0);
  while (!ended.empty()) {
    const int j = ended.front();
    ended.pop_front();
    const Job& J = jobs_[j];
    for (int d : J.dependents) {
      Job& D = jobs_[d];
      if (D.state != JobState::waiting) continue;
      if (J.state != JobState::done) {
        D.reason = fmt::format("dependency '{}' {}{}", J.spec.id, job_state_name(J.state),
                               J.reason.empty() ? "" : ": " + J.reason);
        incident(fmt::format("job {} skipped: {}", D.spec.id, D.reason));
        close(d, JobState::skipped);
        continue;
      }
      if (--D.deps_left > 0) continue;
      D.state = JobState::ready;
      open_[D.spec.model].insert(d);
      try {
        // nothing left to do (finished in an earlier run): done at once
        if (with_driver(D.driver_mu, D.spec.driver, [](JobDriver& x) { return x.done(); })) close(d, JobState::done);
      } catch (const std::exception& e) {
        D.reason = std::string("its driver failed: ") + e.what();
        incident(fmt::format("job {} failed: {}", D.spec.id, D.reason));
        close(d, JobState::failed);
      }
    }
  }
}

bool Scheduler::fill(int jj) {
  Job& j = jobs_[jj];
  if (!j.queue.empty()) return true;
  if (j.state != JobState::ready && j.state != JobState::running) return false;
  std::optional<WorkSpec> spec;
  std::string error;
  bool failed = false;
  // the driver builds the payload (and may read files for it): off the scheduler's lock
  auto call = [&] {
    try {
      spec = with_driver(j.driver_mu, j.spec.driver, [](JobDriver& d) { return d.next(); });
    } catch (const std::exception& e) {
      failed = true;
      error = e.what();
    }
  };
  if (held_)
    held_->released(call);
  else
    call();
  if (failed) {
    fail_job(jj, "its driver failed to produce work: " + error);
    return false;
  }
  if (spec && !terminal(j.state)) j.queue.emplace_back(std::move(*spec), 1);
  return !j.queue.empty();
}

bool Scheduler::job_has_work(int j) { return fill(j); }

bool Scheduler::model_may_get_work(const std::string& model) {
  auto it = open_.find(model);
  if (it == open_.end()) return false;
  auto& open = it->second;
  for (auto jt = open.begin(); jt != open.end();) {
    Job& J = jobs_[*jt];
    if (!J.queue.empty()) return true;
    try {
      if (!with_driver(J.driver_mu, J.spec.driver, [](JobDriver& d) { return d.exhausted(); })) return true;
    } catch (const std::exception&) {
      return true;  // fill() will report the driver's failure
    }
    jt = open.erase(jt);  // exhausted and nothing queued: no more work unless a retry reopens it
  }
  return false;
}

// The earliest open job of `model` with an item to hand out. fill() releases the lock, so the walk
// looks its place up again after every call.
int Scheduler::pick_job(const std::string& model) {
  auto it = open_.find(model);
  if (it == open_.end()) return -1;
  auto& open = it->second;
  for (int after = -1;;) {
    auto jt = open.upper_bound(after);
    if (jt == open.end()) return -1;
    const int j = *jt;
    after = j;
    if (job_has_work(j)) return j;
    Job& J = jobs_[j];
    if (terminal(J.state) || !J.queue.empty()) continue;
    bool exhausted = false;
    try {
      exhausted = with_driver(J.driver_mu, J.spec.driver, [](JobDriver& d) { return d.exhausted(); });
    } catch (const std::exception&) {
    }
    if (exhausted) open.erase(j);
  }
}

std::optional<WorkItem> Scheduler::assign(int g, Clock::time_point now) {
  HeldLock lock(*this);
  T2_CHECK(g >= 0 && g < static_cast<int>(groups_.size()), "no worker group {}", g);
  Group& G = groups_[g];
  if (G.state != GroupState::idle) return std::nullopt;
  int j = G.model.empty() ? -1 : pick_job(G.model);
  if (j < 0 && (G.model.empty() || !model_may_get_work(G.model))) {
    // Switch (or first load): the model with work that the fewest other groups hold; ties go to the
    // earliest job, so the choice depends only on the state. O(groups + models) from the index: the
    // other responsive groups per model once, then the earliest job with work of each open model this
    // group may run (its tp).
    std::map<std::string, int> holders;
    for (size_t o = 0; o < groups_.size(); ++o)
      if (static_cast<int>(o) != g && groups_[o].state != GroupState::unresponsive && !groups_[o].model.empty())
        ++holders[groups_[o].model];
    std::vector<std::string> models;
    for (const auto& [model, open] : open_)
      if (!open.empty() && group_takes(g, model)) models.push_back(model);
    int best_count = INT_MAX;
    for (const auto& model : models) {
      auto h = holders.find(model);
      const int count = h == holders.end() ? 0 : h->second;
      if (count > best_count) continue;
      const int first = pick_job(model);
      if (first >= 0 && (count < best_count || first < j)) {
        best_count = count;
        j = first;
      }
    }
  }
  if (j < 0) return std::nullopt;
  Job& J = jobs_[j];
  auto [spec, attempt] = std::move(J.queue.front());
  J.queue.pop_front();

  WorkItem item;
  item.id = next_item_id_++;
  item.job = J.spec.id;
  item.kind = spec.kind;
  item.model = J.spec.model;
  item.index = spec.index;
  item.attempt = attempt;
  item.units = spec.units;
  item.payload = spec.payload;
  const bool loads = G.model != item.model;
  if (loads) {
    ++model_loads_;
    ++G.model_loads;
    if (!G.model.empty()) ++model_switches_;
    G.model = item.model;
  }
  G.state = GroupState::busy;
  G.current_item = item.id;
  G.last_request = item.describe();
  ++J.in_flight;
  J.state = JobState::running;
  InFlight f;
  f.job = j;
  f.group = g;
  f.spec = std::move(spec);
  f.attempt = attempt;
  f.sent = f.last_sign = now;
  f.timeout = opt_.item_deadline ? opt_.item_deadline(J.spec.kind, spec.kind) : opt_.item_timeout;
  f.deadline = now + std::chrono::duration_cast<Clock::duration>(f.timeout + (loads ? opt_.load_timeout : Seconds(0)));
  item.heartbeat_seconds = opt_.heartbeat_fraction * f.timeout.count();
  item.deadline_seconds = f.timeout.count() + (loads ? opt_.load_timeout.count() : 0.0);
  f.item = item;
  f.item.payload.clear();  // kept for reports only
  in_flight_.emplace(item.id, std::move(f));
  if (opt_.record_dispatches)
    dispatch_log_.push_back(fmt::format("g{} <- item {} job {} #{} attempt {}", g, item.id, item.job, item.index, item.attempt));
  return item;
}

void Scheduler::item_failed(const InFlight& f, const std::string& why) {
  Job& J = jobs_[f.job];
  ++J.failures;
  if (terminal(J.state)) return;
  const int max = attempts_for(J);
  if (f.attempt >= max) {
    fail_job(f.job, fmt::format("{} failed {} of {} attempts; last: {}", f.item.describe(), f.attempt, max, why));
    return;
  }
  incident(fmt::format("{} failed: {}; requeued (attempt {} of {})", f.item.describe(), why, f.attempt + 1, max));
  J.queue.emplace_front(f.spec, f.attempt + 1);  // retries go first
  reopen(f.job);
}

void Scheduler::on_result(const WorkResult& r, Clock::time_point now) {
  HeldLock lock(*this);
  auto it = in_flight_.find(r.item_id);
  if (it == in_flight_.end()) {
    // The answer to an item whose deadline passed (it was requeued): drop it, but a group that answers
    // is alive again.
    if (r.group >= 0 && r.group < static_cast<int>(groups_.size())) {
      Group& G = groups_[r.group];
      if (G.state == GroupState::unresponsive && G.current_item == r.item_id) {
        G.state = GroupState::idle;
        incident(fmt::format("{} answered item {} after its deadline; result dropped, group back in service",
                             group_name(r.group), r.item_id));
      }
    }
    return;
  }
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  Group& G = groups_[f.group];
  G.state = GroupState::idle;
  G.busy_seconds += seconds_between(f.sent, now);
  G.longest_item_seconds = std::max(G.longest_item_seconds, seconds_between(f.sent, now));
  Job& J = jobs_[f.job];
  if (r.ok) {
    ++G.items_done;
    ++items_completed_;
    if (!terminal(J.state)) {
      // the driver records the result (HDF5 writes): off the scheduler's lock, under the driver's; the
      // item still counts as in flight meanwhile, so nobody takes the job for done
      std::string error;
      lock.released([&] {
        try {
          with_driver(J.driver_mu, J.spec.driver, [&](JobDriver& d) { d.complete(f.spec, r); });
        } catch (const std::exception& e) {
          error = e.what();
          if (error.empty()) error = "(no message)";
        }
      });
      if (!error.empty()) fail_job(f.job, fmt::format("the result of {} was rejected: {}", f.item.describe(), error));
    }
    --J.in_flight;
  } else {
    --J.in_flight;
    item_failed(f, fmt::format("worker exception on {}: {}", group_name(f.group), r.error));
  }
  settle(f.job);
}

void Scheduler::lose_group(int g, const std::string& why) {
  Group& G = groups_[g];
  auto it = in_flight_.find(G.current_item);
  if (it == in_flight_.end()) return;
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  G.state = GroupState::unresponsive;
  --jobs_[f.job].in_flight;
  incident(why);
  item_failed(f, why);
  settle(f.job);
}

void Scheduler::on_deadline(int g, Clock::time_point now) {
  HeldLock lock(*this);
  Group& G = groups_[g];
  auto it = in_flight_.find(G.current_item);
  if (G.state != GroupState::busy || it == in_flight_.end() || it->second.deadline > now) return;
  const InFlight& f = it->second;
  lose_group(g, fmt::format("{} did not answer within {:.1f} s: hung (no result and no heartbeat for the deadline of "
                            "a {} item of a {} job; job {}, item #{} dispatched {:.1f} s ago, {} heartbeat(s) so far; "
                            "last request: {})",
                            group_name(g), seconds_between(f.last_sign, now), f.item.kind, jobs_[f.job].spec.kind,
                            f.item.job, f.item.index, seconds_between(f.sent, now), G.heartbeats, G.last_request));
}

int Scheduler::unresponsive_groups() const {
  HeldLock lock(*this);
  int n = 0;
  for (const auto& G : groups_) n += G.state == GroupState::unresponsive;
  return n;
}

void Scheduler::on_heartbeat(int g, uint64_t item_id, Clock::time_point now) {
  HeldLock lock(*this);
  auto it = in_flight_.find(item_id);
  if (it == in_flight_.end() || it->second.group != g) return;  // late: the item was answered or requeued
  InFlight& f = it->second;
  ++groups_[g].heartbeats;
  f.last_sign = now;
  f.deadline = std::max(f.deadline, now + std::chrono::duration_cast<Clock::duration>(f.timeout));
}

void Scheduler::on_send_failure(int g, const std::string& why) {
  HeldLock lock(*this);
  Group& G = groups_[g];
  auto it = in_flight_.find(G.current_item);
  if (G.state != GroupState::busy || it == in_flight_.end()) return;
  lose_group(g, fmt::format("{} could not be sent its request (job {}, request: {}): {}", group_name(g),
                            it->second.item.job, G.last_request, why));
}

std::vector<int> Scheduler::overdue_groups(Clock::time_point now) const {
  HeldLock lock(*this);
  std::vector<int> out;
  for (const auto& [id, f] : in_flight_)
    if (f.deadline <= now) out.push_back(f.group);
  std::sort(out.begin(), out.end());
  return out;
}

bool Scheduler::resolve_stalls() {
  HeldLock lock(*this);
  bool changed = false;
  bool any_responsive = false;
  for (const auto& G : groups_) any_responsive |= G.state != GroupState::unresponsive;
  if (!any_responsive) {
    std::string lost;
    for (size_t g = 0; g < groups_.size(); ++g)
      lost += fmt::format("{}{}: {}", lost.empty() ? "" : "; ", group_name(static_cast<int>(g)),
                          groups_[g].last_request);
    // Fail what could run; the waiting jobs behind them are then skipped with the reason.
    for (size_t j = 0; j < jobs_.size(); ++j)
      if (jobs_[j].state == JobState::ready || jobs_[j].state == JobState::running) {
        fail_job(static_cast<int>(j), "no responsive worker group left (" + lost + ")");
        changed = true;
      }
  }
  for (size_t j = 0; j < jobs_.size(); ++j) {
    Job& J = jobs_[j];
    if ((J.state != JobState::ready && J.state != JobState::running) || J.in_flight != 0 || fill(static_cast<int>(j)) ||
        terminal(J.state))
      continue;
    bool done = false;
    try {
      done = with_driver(J.driver_mu, J.spec.driver, [](JobDriver& d) { return d.done(); });
    } catch (const std::exception& e) {
      fail_job(static_cast<int>(j), std::string("its driver failed: ") + e.what());
      changed = true;
      continue;
    }
    if (done) {
      finish(static_cast<int>(j), JobState::done);
    } else {
      fail_job(static_cast<int>(j), "its driver has no work to hand out and none in flight, but is not done");
    }
    changed = true;
  }
  return changed;
}

bool Scheduler::finished_locked() const { return terminal_jobs_ == jobs_.size(); }

bool Scheduler::finished() const {
  HeldLock lock(*this);
  return finished_locked();
}

int Scheduler::exit_code() const {
  HeldLock lock(*this);
  for (const auto& j : jobs_)
    if (j.state != JobState::done) return static_cast<int>(ExitCode::runtime_failure);
  return 0;
}

std::vector<std::string> Scheduler::dispatch_log() const {
  HeldLock lock(*this);
  return dispatch_log_;
}

SchedulerSnapshot Scheduler::snapshot() const {
  SchedulerSnapshot s;
  std::vector<std::pair<std::shared_ptr<JobDriver>, std::shared_ptr<DriverLock>>> drivers;
  {
  HeldLock lock(*this);
  for (const auto& j : jobs_) {
    JobStatus st;
    st.id = j.spec.id;
    st.kind = j.spec.kind;
    st.model = j.spec.model;
    st.state = j.state;
    st.in_flight = j.in_flight;
    st.failures = j.failures;
    st.reason = j.reason;
    drivers.emplace_back(j.spec.driver, j.driver_mu);
    s.jobs.push_back(std::move(st));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& G = groups_[g];
    GroupStatus gs;
    gs.group = static_cast<int>(g);
    gs.rank = G.rank;
    gs.tp = G.tp;
    gs.state = G.state;
    gs.model = G.model;
    gs.current = G.last_request;
    gs.items_done = G.items_done;
    gs.model_loads = G.model_loads;
    gs.busy_seconds = G.busy_seconds;
    gs.heartbeats = G.heartbeats;
    gs.longest_item_seconds = G.longest_item_seconds;
    s.groups.push_back(std::move(gs));
  }
  s.incidents = incidents_;
  s.model_loads = model_loads_;
  s.model_switches = model_switches_;
  s.items_dispatched = next_item_id_ - 1;
  s.items_completed = items_completed_;
  s.finished = finished_locked();
  s.elapsed_seconds = seconds_between(started_, Clock::now());
  s.lock_holds = lock_holds_;
  s.lock_hold_mean_us = lock_holds_ ? lock_hold_total_us_ / static_cast<double>(lock_holds_) : 0.0;
  s.lock_hold_max_us = lock_hold_max_us_;
  }
  // progress from the drivers, each under its own lock when free; a driver busy with next() or
  // complete() (a payload built, a record written) shows what it showed last instead of being waited for
  for (size_t i = 0; i < drivers.size(); ++i) {
    JobStatus& st = s.jobs[i];
    DriverLock& dl = *drivers[i].second;
    std::unique_lock<std::mutex> held(dl.mu, std::try_to_lock);
    if (held.owns_lock()) {
      try {
        st.units_done = drivers[i].first->units_done();
        st.units_total = drivers[i].first->units_total();
        st.metrics = drivers[i].first->metrics();
      } catch (const std::exception& e) {
        st.metrics = {{"error", e.what()}};
      }
      held.unlock();
      std::lock_guard<std::mutex> last(dl.last_mu);
      dl.units_done = st.units_done;
      dl.units_total = st.units_total;
      dl.metrics = st.metrics;
    } else {
      std::lock_guard<std::mutex> last(dl.last_mu);
      st.units_done = dl.units_done;
      st.units_total = dl.units_total;
      st.metrics = dl.metrics;
    }
  }
  return s;
}

int Scheduler::run(WorkTransport& transport) {
  T2_CHECK(transport.groups() == static_cast<int>(groups_.size()),
           "the transport has {} worker groups, the scheduler {}", transport.groups(), groups_.size());
  auto flush = [&] {
    std::vector<std::string> lines;
    {
      HeldLock lock(*this);
      lines.swap(pending_incidents_);
    }
    if (opt_.on_incident)
      for (const auto& l : lines) opt_.on_incident(l);
  };
  for (;;) {
    const auto now = Clock::now();
    for (int g = 0; g < static_cast<int>(groups_.size()); ++g)
      if (auto item = assign(g, now)) {
        try {
          transport.send(g, *item);
        } catch (const std::exception& e) {
          on_send_failure(g, e.what());
        }
      }
    flush();
    if (finished()) break;
    Clock::time_point wake = now + std::chrono::duration_cast<Clock::duration>(opt_.poll_interval);
    bool any_in_flight;
    {
      HeldLock lock(*this);
      any_in_flight = !in_flight_.empty();
      for (const auto& [id, f] : in_flight_) wake = std::min(wake, f.deadline);
    }
    if (!any_in_flight) {
      // Nothing running and nothing assignable: fail what can never progress rather than wait.
      if (!resolve_stalls()) {
        HeldLock lock(*this);
        for (size_t j = 0; j < jobs_.size(); ++j)
          fail_job(static_cast<int>(j), "the scheduler found no work to run and none in flight");
      }
      flush();
      continue;
    }
    auto take = [&](const WorkResult& r) {
      if (r.heartbeat)
        on_heartbeat(r.group, r.item_id, Clock::now());
      else
        on_result(r, Clock::now());
    };
    if (auto r = transport.poll(Deadline::at(wake))) {
      take(*r);
      while (auto more = transport.poll(Deadline::at(Clock::now()))) take(*more);
    }
    const auto after = Clock::now();
    for (int g : overdue_groups(after)) on_deadline(g, after);
    flush();
    if (opt_.on_tick) opt_.on_tick();
  }
  try {
    transport.shutdown(Deadline::after(opt_.shutdown_timeout));
  } catch (const std::exception& e) {
    HeldLock lock(*this);
    incident(std::string("worker shutdown: ") + e.what());
  }
  flush();
  if (opt_.on_tick) opt_.on_tick();
  return exit_code();
}

nlohmann::json scheduler_snapshot_json(const SchedulerSnapshot& s) {
  using nlohmann::json;
  json jobs = json::array(), groups = json::array();
  for (const auto& j : s.jobs) {
    json o = {{"id", j.id},
              {"kind", j.kind},
              {"model", j.model},
              {"state", job_state_name(j.state)},
              {"units_done", j.units_done},
              {"units_total", j.units_total},
              {"in_flight", j.in_flight},
              {"failures", j.failures},
              {"metrics", j.metrics.is_null() ? json::object() : j.metrics}};
    if (!j.reason.empty()) o["reason"] = j.reason;
    jobs.push_back(std::move(o));
  }
  for (const auto& g : s.groups)
    groups.push_back({{"group", g.group},
                      {"rank", g.rank},
                      {"tp", g.tp},
                      {"state", group_state_name(g.state)},
                      {"model", g.model},
                      {"request", g.current},
                      {"items_done", g.items_done},
                      {"model_loads", g.model_loads},
                      {"busy_seconds", g.busy_seconds},
                      {"heartbeats", g.heartbeats},
                      {"longest_item_seconds", g.longest_item_seconds}});
  return {{"jobs", jobs},
          {"groups", groups},
          {"incidents", s.incidents},
          {"model_loads", s.model_loads},
          {"model_switches", s.model_switches},
          {"items_dispatched", s.items_dispatched},
          {"items_completed", s.items_completed},
          {"finished", s.finished},
          {"elapsed_seconds", s.elapsed_seconds},
          {"lock_holds", s.lock_holds},
          {"lock_hold_mean_us", s.lock_hold_mean_us},
          {"lock_hold_max_us", s.lock_hold_max_us}};
}

}  // namespace t2
