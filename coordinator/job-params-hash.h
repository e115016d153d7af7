// The parameters that determine a job's results, flattened to "key -> canonical JSON text", and a
// hash of them. A run directory records them per job (coordinator/campaign-freeze.h) so that a rerun
// of an edited campaign can tell which finished or partial jobs its edits touch.
//
// What counts, for a job of the plan:
//   kind, model, task, method, seed and every key of the job's params (hyperparameters, the ids of
//   its inputs), flattened with '.' ("lr", "experts", "cem.population");
//   models.<m>.<key>  every resolved key of its model except tp, gpu_memory_gb and display_name
//                     (where and how big, not what is computed);
//   tasks.<t>.<key>   every resolved key of its task, and of every task that one names (a cls task's
//                     sources), except display_name;
//   inputs.<job id>   the hash of each dependency: a change upstream changes every job downstream.
// Timeouts, slurm, output, status_port, names used for display: not part of any job's results.
// Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/campaign.h"
#include "jobs/job-plan.h"

namespace t2 {

struct JobParams {
  std::string hash;                          // 32 hex digits over `values`
  std::map<std::string, std::string> values; // flattened key -> canonical JSON text

  nlohmann::json to_json() const;
  static JobParams from_json(const nlohmann::json& j);  // FormatError-free: missing fields stay empty
};

// Every job of the plan (in plan order, dependencies first).
std::map<std::string, JobParams> job_params_of(const Campaign& campaign, const Plan& plan);

// The keys whose values differ (present in one only, or different), sorted.
std::vector<std::string> changed_keys(const JobParams& before, const JobParams& now);

}  // namespace t2
