#include "coordinator/scheduler.h"

#include <algorithm>
#include <climits>
#include <fmt/format.h>

#include "core/check.h"
#include "core/names.h"

namespace t2 {

namespace {
constexpr size_t kIncidentsKept = 200;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<Seconds>(b - a).count();
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

  for (int r : group_ranks) {
    Group g;
    g.rank = r;
    groups_.push_back(g);
  }
  HeldLock lock(*this);
  refresh_states();
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
  job.state = JobState::failed;
  job.reason = reason;
  job.queue.clear();
  incident(fmt::format("job {} failed: {}", job.spec.id, reason));
}

void Scheduler::refresh_states() {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& j : jobs_) {
      if (j.state == JobState::waiting) {
        bool all_done = true;
        for (int d : j.deps) {
          const Job& dep = jobs_[d];
          if (dep.state == JobState::failed || dep.state == JobState::skipped) {
            j.state = JobState::skipped;
            j.reason = fmt::format("dependency '{}' {}{}", dep.spec.id, job_state_name(dep.state),
                                   dep.reason.empty() ? "" : ": " + dep.reason);
            incident(fmt::format("job {} skipped: {}", j.spec.id, j.reason));
            changed = true;
            break;
          }
          if (dep.state != JobState::done) all_done = false;
        }
        if (j.state == JobState::waiting && all_done) {
          j.state = JobState::ready;
          changed = true;
        }
      }
      if ((j.state == JobState::ready || j.state == JobState::running) && j.in_flight == 0 && j.queue.empty()) {
        bool done = false;
        try {
          done = j.spec.driver->done();
        } catch (const std::exception& e) {
          fail_job(static_cast<int>(&j - jobs_.data()), std::string("its driver failed: ") + e.what());
          changed = true;
          continue;
        }
        if (done) {
          j.state = JobState::done;
          changed = true;
        }
      }
    }
  }
}

bool Scheduler::fill(Job& j) {
  if (!j.queue.empty()) return true;
  if (j.state != JobState::ready && j.state != JobState::running) return false;
  try {
    if (auto s = j.spec.driver->next()) j.queue.emplace_back(std::move(*s), 1);
  } catch (const std::exception& e) {
    fail_job(static_cast<int>(&j - jobs_.data()), std::string("its driver failed to produce work: ") + e.what());
    refresh_states();
    return false;
  }
  return !j.queue.empty();
}

bool Scheduler::job_has_work(int j) { return fill(jobs_[j]); }

bool Scheduler::model_may_get_work(const std::string& model) {
  for (auto& j : jobs_) {
    if (j.spec.model != model || (j.state != JobState::ready && j.state != JobState::running)) continue;
    if (!j.queue.empty()) return true;
    try {
      if (!j.spec.driver->exhausted()) return true;
    } catch (const std::exception&) {
      return true;  // fill() will report the driver's failure
    }
  }
  return false;
}

int Scheduler::pick_job(const std::string& model) {
  for (size_t j = 0; j < jobs_.size(); ++j)
    if (jobs_[j].spec.model == model && job_has_work(static_cast<int>(j))) return static_cast<int>(j);
  return -1;
}

std::optional<WorkItem> Scheduler::assign(int g, Clock::time_point now) {
  HeldLock lock(*this);
  T2_CHECK(g >= 0 && g < static_cast<int>(groups_.size()), "no worker group {}", g);
  Group& G = groups_[g];
  if (G.state != GroupState::idle) return std::nullopt;
  int j = G.model.empty() ? -1 : pick_job(G.model);
  if (j < 0 && (G.model.empty() || !model_may_get_work(G.model))) {
    // Switch (or first load): the model with work that the fewest other groups hold; ties go to the
    // earliest job, so the choice depends only on the state.
    // O(groups + jobs): the other responsive groups per model once, then one pass over the jobs.
    std::map<std::string, int> holders;
    for (size_t o = 0; o < groups_.size(); ++o)
      if (static_cast<int>(o) != g && groups_[o].state != GroupState::unresponsive && !groups_[o].model.empty())
        ++holders[groups_[o].model];
    int best_count = INT_MAX;
    for (size_t jj = 0; jj < jobs_.size() && best_count > 0; ++jj) {
      if (!job_has_work(static_cast<int>(jj))) continue;
      auto h = holders.find(jobs_[jj].spec.model);
      const int count = h == holders.end() ? 0 : h->second;
      if (count < best_count) {
        best_count = count;
        j = static_cast<int>(jj);
      }
    }
  }
  if (j < 0) return std::nullopt;
  Job& J = jobs_[j];
  auto [spec, attempt] = std::move(J.queue.front());
  J.queue.erase(J.queue.begin());

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
  J.queue.insert(J.queue.begin(), {f.spec, f.attempt + 1});  // retries go first
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
  --J.in_flight;
  if (r.ok) {
    ++G.items_done;
    ++items_completed_;
    if (!terminal(J.state)) {
      try {
        J.spec.driver->complete(f.spec, r);
      } catch (const std::exception& e) {
        fail_job(f.job, fmt::format("the result of {} was rejected: {}", f.item.describe(), e.what()));
      }
    }
  } else {
    item_failed(f, fmt::format("worker exception on {}: {}", group_name(f.group), r.error));
  }
  refresh_states();
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
  refresh_states();
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
    refresh_states();
  }
  for (size_t j = 0; j < jobs_.size(); ++j) {
    Job& J = jobs_[j];
    if ((J.state == JobState::ready || J.state == JobState::running) && J.in_flight == 0 && !fill(J) &&
        !terminal(J.state) && !J.spec.driver->done()) {
      fail_job(static_cast<int>(j), "its driver has no work to hand out and none in flight, but is not done");
      changed = true;
    }
  }
  refresh_states();
  return changed;
}

bool Scheduler::finished_locked() const {
  for (const auto& j : jobs_)
    if (!terminal(j.state)) return false;
  return true;
}

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
  HeldLock lock(*this);
  SchedulerSnapshot s;
  for (const auto& j : jobs_) {
    JobStatus st;
    st.id = j.spec.id;
    st.kind = j.spec.kind;
    st.model = j.spec.model;
    st.state = j.state;
    st.in_flight = j.in_flight;
    st.failures = j.failures;
    st.reason = j.reason;
    try {
      st.units_done = j.spec.driver->units_done();
      st.units_total = j.spec.driver->units_total();
      st.metrics = j.spec.driver->metrics();
    } catch (const std::exception& e) {
      st.metrics = {{"error", e.what()}};
    }
    s.jobs.push_back(std::move(st));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& G = groups_[g];
    GroupStatus gs;
    gs.group = static_cast<int>(g);
    gs.rank = G.rank;
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
        refresh_states();
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
