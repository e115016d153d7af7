// The Slurm jobs of a run directory: `t2 submit` records every job it submits in
// RUN_DIR/slurm/jobs.json (written atomically); `t2 status` reads their states and `t2 cancel`
// cancels those still queued or running.
//
// jobs.json: {"version": 1, "jobs": [{"job_id": "123", "script": "slurm/tp8.sbatch", "shape": "tp8",
//             "array": "", "submitted_at": "2026-11-22T11:50:00Z"}, ...]}
#pragma once

#include <string>
#include <vector>

#include "cluster/slurm-client.h"

namespace t2 {

struct SubmittedJob {
  std::string job_id;
  std::string script;        // path of the sbatch script, relative to the run directory when inside it
  std::string shape;         // the resource shape it serves ("tp8", "array")
  std::string array;         // the --array spec, "" for a plain job
  std::string submitted_at;  // UTC, ISO 8601
};

std::string slurm_jobs_path(const std::string& run_dir);

// Empty when the run has no jobs file; FormatError naming the file and the key when it is malformed.
std::vector<SubmittedJob> read_submitted_jobs(const std::string& run_dir);

// Adds one job to the file (read, append, atomic rewrite); creates RUN_DIR/slurm/.
void record_submitted_job(const std::string& run_dir, const SubmittedJob& job);

struct RunJobState {
  SubmittedJob job;
  std::vector<SlurmJob> tasks;  // from scontrol, else from sacct -c; empty when Slurm forgot the job
};

// The current state of every recorded job.
std::vector<RunJobState> run_job_states(const std::string& run_dir, const SlurmClient& client);

// Cancels every recorded job that is not finished; returns the ids it cancelled.
std::vector<std::string> cancel_run_jobs(const std::string& run_dir, const SlurmClient& client);

}  // namespace t2
