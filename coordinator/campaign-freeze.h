// Edited campaigns never mix results. The campaign as resolved (overrides, ${VAR}, defaults) is frozen
// in its run directory, and every job's result-determining parameters (coordinator/job-params-hash.h)
// are recorded beside it:
//
//   RUN_DIR/campaign.frozen.yaml   the resolved campaign (JSON, which is YAML): what `t2 submit`'s
//                                  scripts run on every start and requeue, never the live file
//   RUN_DIR/job-params.json        job id -> {hash, params}: what each job's records were made with
//   RUN_DIR/superseded/<stamp>/    records of jobs recomputed by --rerun-changed (kept, never deleted)
//
// A rerun compares the plan it would run with the recorded parameters of every job that has records
// (finished or partial). Any difference stops it with exit 2 and a list of the changed keys per job,
// unless the user asks for --rerun-changed: then exactly those jobs (and, through the hash of their
// inputs, every job downstream of them) are moved under superseded/ and recomputed into fresh
// records. Jobs that are new (another seed, model or task) or never started are not changes: they
// simply run. Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "coordinator/job-params-hash.h"
#include "jobs/campaign.h"
#include "jobs/job-plan.h"

namespace t2 {

std::string frozen_campaign_path(const std::string& run_dir);
std::string job_params_path(const std::string& run_dir);

struct JobChange {
  std::string job_id;
  std::string state;               // "done" or "partial"
  std::vector<std::string> keys;   // changed keys, sorted
};

// The jobs of `plan` that have records in `run_dir` whose recorded parameters differ from `now`.
// Read-only; jobs with records but no recorded parameters (a run of an older t2) are taken as
// unchanged.
std::vector<JobChange> find_campaign_changes(const std::string& run_dir, const std::map<std::string, JobParams>& now);

// The UsageError text for refused changes: one line per job with its changed keys and the old and
// new values of (at most) a few of them, and how to proceed.
std::string describe_changes(const std::string& run_dir, const std::vector<JobChange>& changes,
                             const std::map<std::string, JobParams>& now);

// Moves the records of the changed jobs (and an SVD folder of a changed decompose job) under
// RUN_DIR/superseded/<stamp>/; returns that folder. Call with the run lock held.
std::string supersede_jobs(const std::string& run_dir, const std::vector<JobChange>& changes);

// Writes job-params.json (entries of jobs not in `now` are kept) and, unless `campaign.file` is the
// frozen copy itself, campaign.frozen.yaml with the resolved campaign (output made absolute).
// Call with the run lock held, after the changes were refused or superseded.
void freeze_campaign(const std::string& run_dir, const Campaign& campaign,
                     const std::map<std::string, JobParams>& now);

// The two steps of `t2 run`, on top of the above. check_campaign_changes: before anything is started
// (every rank, read-only), a UsageError listing the changes unless `rerun_changed`.
// settle_campaign_changes: on the writer with the run lock held, checks again, supersedes the changed
// jobs when allowed and freezes; returns a line for the log ("" when nothing was superseded).
void check_campaign_changes(const Campaign& campaign, const Plan& plan, bool rerun_changed);
std::string settle_campaign_changes(const Campaign& campaign, const Plan& plan, bool rerun_changed);

// Writes campaign.frozen.yaml only (t2 submit: the parameters are recorded when the job starts).
void write_frozen_campaign(const std::string& run_dir, const Campaign& campaign);

// True when `campaign_file` is the frozen copy inside `run_dir`.
bool is_frozen_copy(const std::string& campaign_file, const std::string& run_dir);

}  // namespace t2
