// The writer of a run directory: the coordinator's only way to persist results. Every finished unit
// (an evaluated batch, a checkpoint, a CEM generation, metrics, an expert file, a DONE marker) is
// written to a temporary file, fsynced and renamed into place, then the directory is fsynced; so a
// kill -9 at any instant leaves every file complete and readable and loses at most the unit in
// flight. Exactly one writer per run directory: RunStore holds RUN_DIR/.lock (flock) for its life
// and a second writer gets an error naming the holder's pid and host.
//
//   auto store = RunStore::open_for_write(dir, meta);
//   store.begin_job({.id = "evaluate/llama3-8b/gsm8k/svf/seed42", .kind = "evaluate", .params = {...}});
//   for (int64_t b : store.reader().missing_eval_batches(id, n_batches))
//     store.write_eval_batch(id, {b, b * batch_size, records});
//   store.write_metrics(id, Metrics::from_records(store.reader().read_examples(id)));
//   store.mark_done(id);
#pragma once

#include <functional>
#include <string>

#include "core/deadline.h"
#include "results/hdf5-file.h"
#include "results/run-lock.h"
#include "results/run-reader.h"
#include "results/run-records.h"

namespace t2::results {

class RunStore {
 public:
  // Takes the lock (waiting until `lock_deadline`), removes temporary files left by a killed writer,
  // and writes run.h5. On an existing run the original started_at is kept and `sessions` counts up;
  // the given meta replaces the rest.
  static RunStore open_for_write(const std::string& run_dir, RunMeta meta,
                                 Deadline lock_deadline = Deadline::after(timeouts::file_lock));

  RunStore(RunStore&&) = default;
  RunStore& operator=(RunStore&&) = default;

  const std::string& dir() const { return dir_; }
  RunReader reader() const { return RunReader(dir_); }
  const RunMeta& meta() const { return meta_; }

  // Rewrites run.h5 (atomically) with new metadata; finish_run() stamps ended_at.
  void update_meta(const RunMeta& meta);
  void finish_run();

  // Records the job (kind, params) as running; on a restarted job keeps started_at and counts
  // attempts; a job already done is left as it is. Units can only be written for a begun job.
  void begin_job(const JobInfo& job);
  void set_job_status(const std::string& job_id, JobStatus status, const std::string& message = "");

  // One finished evaluation batch. Refuses a batch index already written (a duplicate would
  // count examples twice).
  void write_eval_batch(const std::string& job_id, const EvalBatch& batch);
  // A checkpoint; its step must be above the latest one. Keeps the newest `keep_checkpoints`.
  void write_checkpoint(const std::string& job_id, const CheckpointState& state);
  // A finished CEM generation; generations must increase. All generations are kept (history).
  void write_cem_generation(const std::string& job_id, const CemGeneration& gen);
  // Final metrics (result.h5), replacing earlier ones.
  void write_metrics(const std::string& job_id, const Metrics& metrics);
  // Any other final product (expert.h5, svd factors): `fill` writes into a fresh HDF5 file that
  // appears at jobs/<job>/<file_name> atomically when it returns.
  void write_unit(const std::string& job_id, const std::string& file_name,
                  const std::function<void(h5::File&)>& fill);
  // Marks the job done: job.h5 says done with its finish time, then DONE is written (last).
  void mark_done(const std::string& job_id);

  std::string job_dir(const std::string& job_id) const;
  int keep_checkpoints = 3;

 private:
  RunStore() = default;
  std::string require_job_dir(const std::string& job_id) const;
  void write_meta_file();
  void remove_temp_files();

  std::string dir_;
  RunMeta meta_;
  RunLock lock_;
};

}  // namespace t2::results
