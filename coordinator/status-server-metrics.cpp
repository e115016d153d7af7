#include "coordinator/status-server-metrics.h"

#include <fmt/format.h>

#include <map>

namespace t2 {

std::string prometheus_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_metrics(const SchedulerSnapshot& s) {
  std::string o;
  auto head = [&](const char* name, const char* type, const char* help) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto L = prometheus_label_value;

  head("t2_jobs_total", "gauge", "Jobs of the campaign by state.");
  std::map<std::string, int> by_state;
  for (auto st : {JobState::waiting, JobState::ready, JobState::running, JobState::done, JobState::failed,
                  JobState::skipped})
    by_state[job_state_name(st)] = 0;
  for (const auto& j : s.jobs) ++by_state[job_state_name(j.state)];
  for (const auto& [state, n] : by_state) o += fmt::format("t2_jobs_total{{state=\"{}\"}} {}\n", state, n);

  head("t2_job_progress", "gauge", "Fraction of a job's units done (0..1).");
  for (const auto& j : s.jobs) {
    const double f = j.units_total ? static_cast<double>(j.units_done) / static_cast<double>(j.units_total)
                                   : (j.state == JobState::done ? 1.0 : 0.0);
    o += fmt::format("t2_job_progress{{job=\"{}\",kind=\"{}\",model=\"{}\"}} {}\n", L(j.id), L(j.kind), L(j.model), f);
  }
  head("t2_job_units_done", "gauge", "Units (examples, shards) of a job done.");
  for (const auto& j : s.jobs) o += fmt::format("t2_job_units_done{{job=\"{}\"}} {}\n", L(j.id), j.units_done);
  head("t2_job_units_total", "gauge", "Units (examples, shards) of a job in all.");
  for (const auto& j : s.jobs) o += fmt::format("t2_job_units_total{{job=\"{}\"}} {}\n", L(j.id), j.units_total);
  head("t2_job_failures_total", "counter", "Failed attempts of a job's items (exceptions and deadlines).");
  for (const auto& j : s.jobs) o += fmt::format("t2_job_failures_total{{job=\"{}\"}} {}\n", L(j.id), j.failures);

  auto per_group = [&](const char* name, const char* type, const char* help, auto value) {
    head(name, type, help);
    for (const auto& g : s.groups) o += fmt::format("{}{{group=\"{}\",rank=\"{}\"}} {}\n", name, g.group, g.rank, value(g));
  };
  per_group("t2_worker_busy", "gauge", "1 while the worker group has an item in flight.",
            [](const GroupStatus& g) { return g.state == GroupState::busy ? 1 : 0; });
  per_group("t2_worker_unresponsive", "gauge", "1 after the worker group missed a deadline.",
            [](const GroupStatus& g) { return g.state == GroupState::unresponsive ? 1 : 0; });
  per_group("t2_worker_items_total", "counter", "Items the worker group completed.",
            [](const GroupStatus& g) { return g.items_done; });
  per_group("t2_worker_model_loads_total", "counter", "Models the worker group loaded.",
            [](const GroupStatus& g) { return g.model_loads; });
  per_group("t2_worker_busy_seconds_total", "counter", "Seconds the worker group spent on items.",
            [](const GroupStatus& g) { return g.busy_seconds; });

  head("t2_model_switches_total", "counter", "Times a worker group replaced its loaded model.");
  o += fmt::format("t2_model_switches_total {}\n", s.model_switches);
  head("t2_items_dispatched_total", "counter", "Items sent to worker groups (retries included).");
  o += fmt::format("t2_items_dispatched_total {}\n", s.items_dispatched);
  head("t2_items_completed_total", "counter", "Items answered successfully.");
  o += fmt::format("t2_items_completed_total {}\n", s.items_completed);
  head("t2_campaign_finished", "gauge", "1 once every job is done, failed or skipped.");
  o += fmt::format("t2_campaign_finished {}\n", s.finished ? 1 : 0);
  head("t2_uptime_seconds", "gauge", "Seconds since the scheduler started.");
  o += fmt::format("t2_uptime_seconds {}\n", s.elapsed_seconds);
  return o;
}

}  // namespace t2
