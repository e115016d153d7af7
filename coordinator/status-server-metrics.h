// The Prometheus text exposition (format 0.0.4) of a scheduler snapshot, served at GET /metrics.
// Metric names (docs/coordinator.md lists them with their meaning):
//   t2_jobs_total{state}                       gauge    jobs per state (every state, 0 included)
//   t2_job_progress{job,kind,model}            gauge    units done / units total, 0..1
//   t2_job_units_done{job}, t2_job_units_total{job}
//   t2_job_failures_total{job}                 counter  failed attempts (exceptions and deadlines)
//   t2_worker_busy{group,rank}                 gauge    1 while an item is in flight
//   t2_worker_unresponsive{group,rank}         gauge    1 after a missed deadline
//   t2_worker_items_total{group,rank}          counter  items completed
//   t2_worker_model_loads_total{group,rank}    counter
//   t2_worker_busy_seconds_total{group,rank}   counter
//   t2_model_switches_total, t2_items_dispatched_total, t2_items_completed_total   counters
//   t2_campaign_finished                       gauge    1 once every job is done, failed or skipped
//   t2_uptime_seconds                          gauge
#pragma once

#include <string>

#include "coordinator/scheduler.h"

namespace t2 {

std::string prometheus_metrics(const SchedulerSnapshot& s);

// A label value with \, " and newline escaped as the exposition format requires.
std::string prometheus_label_value(const std::string& v);

}  // namespace t2
