// Reading a run directory: what the coordinator needs to resume (which jobs are done, the last
// checkpoint, which evaluation batches exist) and what `t2 table` / `t2 report` need. Readers never
// take the writer lock: every file they see was renamed into place complete, and temporary files
// are ignored, so reading while a writer runs is safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/run-records.h"

namespace t2::results {

class RunReader {
 public:
  // Throws UsageError when `run_dir` has no run.h5 (not a t2 run directory).
  explicit RunReader(std::string run_dir);

  const std::string& dir() const { return dir_; }
  RunMeta meta() const;

  // Jobs that have a folder (sorted by id). A job without a folder is pending.
  std::vector<std::string> job_ids() const;
  // job.h5 of the job; nullopt when the job was never started.
  std::optional<JobInfo> job(const std::string& job_id) const;
  // done when DONE exists; else the status recorded in job.h5; pending when nothing is there.
  JobStatus job_status(const std::string& job_id) const;
  bool is_done(const std::string& job_id) const;

  // Evaluation batches present, ascending. Batches may finish out of order (several worker
  // groups), so a gap means "not yet evaluated", never "lost".
  std::vector<int64_t> eval_batches(const std::string& job_id) const;
  // Batch indices in [0, total) not yet written, ascending: what a resumed evaluation still owes.
  std::vector<int64_t> missing_eval_batches(const std::string& job_id, int64_t total) const;
  // The smallest batch index not yet written.
  int64_t next_eval_batch(const std::string& job_id) const;
  EvalBatch read_eval_batch(const std::string& job_id, int64_t index) const;
  // Every record of every batch, in batch order.
  std::vector<ExampleRecord> read_examples(const std::string& job_id) const;

  // Checkpoint steps present, ascending (the writer keeps the last few).
  std::vector<int64_t> checkpoint_steps(const std::string& job_id) const;
  std::optional<int64_t> latest_checkpoint_step(const std::string& job_id) const;
  std::optional<CheckpointState> latest_checkpoint(const std::string& job_id) const;
  CheckpointState read_checkpoint(const std::string& job_id, int64_t step) const;
  // The curve of the newest checkpoint (without reading the arrays); empty when none.
  TrainingCurve training_curve(const std::string& job_id) const;

  // CEM generations present, ascending by generation.
  std::vector<CemGeneration> cem_history(const std::string& job_id) const;
  std::optional<CemGeneration> latest_cem_generation(const std::string& job_id) const;

  // Final metrics (result.h5), nullopt when not written yet.
  std::optional<Metrics> metrics(const std::string& job_id) const;

  // Paths, for final products written by other parts (expert.h5) and for tools.
  std::string job_dir(const std::string& job_id) const;
  std::string unit_path(const std::string& job_id, const std::string& file_name) const;

  // Opens every HDF5 file of the run (temporary files excepted) and returns one line per problem
  // ("jobs/x/eval-000003.h5: ..."); empty when everything reads back.
  std::vector<std::string> verify() const;

 private:
  std::vector<std::pair<int64_t, std::string>> units(const std::string& job_id, const std::string& prefix) const;
  std::string dir_;
};

}  // namespace t2::results
