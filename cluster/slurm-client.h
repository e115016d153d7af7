// SlurmClient: Slurm's command-line clients (sbatch, squeue, scontrol, sacct, scancel) run through
// run_subprocess with a deadline each, their output parsed into values. A command that fails or
// times out throws t2::Error with the command line, its exit status and stderr.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace t2 {

struct SlurmClientOptions {
  Seconds timeout = timeouts::slurm_command;
  std::map<std::string, std::string> env;  // added to the environment of every command (SLURM_CONF, ...)
};

// One job, or one task of an array job, as Slurm reports it.
struct SlurmJob {
  std::string job_id;        // "123", or "123_4" for array task 4 of array job 123
  std::string array_job_id;  // "" when not an array task
  std::string array_task_id;
  std::string name;
  std::string state;         // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
  std::string reason;
  int restarts = 0;          // scontrol's Restarts (= SLURM_RESTART_COUNT of the next start)
  std::string exit_code;     // "0:0"
  bool finished() const;     // COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, ...
};

class SlurmClient {
 public:
  explicit SlurmClient(SlurmClientOptions opt = {});

  // sbatch and scontrol on PATH.
  static bool available();

  // sbatch --parsable SCRIPT: the job id (an array job's id for arrays).
  std::string submit(const std::string& script_path, const std::vector<std::string>& extra_args = {}) const;

  // squeue -h -r: the jobs that are still known to the controller (array tasks one by one).
  std::vector<SlurmJob> queue(const std::vector<std::string>& job_ids) const;

  // scontrol show job -o ID: every task of the job (one entry for a plain job); nullopt when the
  // controller no longer knows the id.
  std::optional<std::vector<SlurmJob>> show_job(const std::string& job_id) const;

  // sacct -c (job-completion file, works without slurmdbd) or sacct (accounting database).
  std::vector<SlurmJob> accounting(const std::vector<std::string>& job_ids, bool completion_file = true) const;

  // scancel; with a signal: `scancel --signal=SIG [--batch]` (the job keeps running).
  void cancel(const std::vector<std::string>& job_ids, const std::string& signal = "", bool batch_only = false) const;

  // scontrol requeue ID (the job must have been submitted with --requeue).
  void requeue(const std::string& job_id) const;

  // Polls show_job until every task of the job satisfies `done` or the deadline passes; returns the
  // last answer (TimeoutError naming the job and its states when the deadline passes).
  std::vector<SlurmJob> wait_until(const std::string& job_id, bool (*done)(const SlurmJob&),
                                   const Deadline& deadline, const std::string& what) const;

  // Parsers (public for tests): `scontrol show job -o` lines, and `squeue/sacct` '|'-separated rows.
  static std::vector<SlurmJob> parse_show_job(const std::string& out);
  static std::vector<SlurmJob> parse_rows(const std::string& out, const std::string& source);

 private:
  std::string run(const std::vector<std::string>& argv, bool allow_fail = false, int* exit_code = nullptr) const;
  SlurmClientOptions opt_;
};

// What requeue_self did.
struct RequeueDecision {
  bool requeued = false;
  std::string job_id;  // the id passed to scontrol requeue
  int restart_count = 0;
  std::string why;     // "requeued job 12 (start 1 of at most 3)" or why not
};

// Called by the coordinator after checkpointing on SIGUSR1/SIGTERM: requeues the job it runs in
// (SLURM_JOB_ID, or SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID for an array task) unless it already
// restarted `max_restarts` times (SLURM_RESTART_COUNT) or does not run under Slurm. `env` is the
// process environment (WorldLayout::process_env()).
RequeueDecision requeue_self(const SlurmClient& client, const std::map<std::string, std::string>& env,
                             int max_restarts);

}  // namespace t2
