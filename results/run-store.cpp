#include "results/run-store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/check.h"
#include "core/files.h"
#include "core/version.h"
#include "results/run-codec.h"
#include "results/run-layout.h"

namespace fs = std::filesystem;

namespace t2::results {
namespace {

// Parses our own ISO time ("2026-11-22T11:15:03Z") to seconds since the epoch; -1 when malformed.
double iso_seconds(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
  return static_cast<double>(timegm(&tm));
}

void write_h5_atomic(const std::string& path, const std::function<void(h5::File&)>& fill) {
  auto f = h5::File::create_atomic(path);
  fill(f);
  f.commit();
}

}  // namespace

RunStore RunStore::open_for_write(const std::string& run_dir, RunMeta meta, Deadline lock_deadline) {
  RunStore s;
  s.dir_ = run_dir;
  while (s.dir_.size() > 1 && s.dir_.back() == '/') s.dir_.pop_back();
  s.lock_ = RunLock::acquire(s.dir_, lock_deadline);
  make_dirs(s.dir_ + "/" + layout::jobs_dir);
  s.remove_temp_files();
  const std::string run_file = s.dir_ + "/" + layout::run_file;
  if (path_exists(run_file)) {
    RunMeta old = codec::read_meta(h5::File::open(run_file));
    if (!old.started_at.empty()) meta.started_at = old.started_at;
    meta.sessions = old.sessions;
  }
  if (meta.started_at.empty()) meta.started_at = utc_now_iso();
  if (meta.t2_version.empty()) meta.t2_version = t2::version();
  if (meta.git_sha.empty()) meta.git_sha = t2::git_sha();
  meta.sessions += 1;
  s.meta_ = std::move(meta);
  s.write_meta_file();
  return s;
}

void RunStore::remove_temp_files() {
  // Only the lock holder may delete: a temporary file is a unit a killed writer never finished.
  for (auto it = fs::recursive_directory_iterator(dir_); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file() && layout::is_temp_file(it->path().filename().string())) {
      std::error_code ec;
      fs::remove(it->path(), ec);
    }
  }
}

void RunStore::write_meta_file() {
  write_h5_atomic(dir_ + "/" + layout::run_file, [&](h5::File& f) { codec::write_meta(f, meta_); });
}

void RunStore::update_meta(const RunMeta& meta) {
  RunMeta m = meta;
  m.started_at = meta_.started_at;
  m.sessions = meta_.sessions;
  if (m.t2_version.empty()) m.t2_version = meta_.t2_version;
  if (m.git_sha.empty()) m.git_sha = meta_.git_sha;
  meta_ = std::move(m);
  write_meta_file();
}

void RunStore::finish_run() {
  meta_.ended_at = utc_now_iso();
  write_meta_file();
}

std::string RunStore::job_dir(const std::string& job_id) const {
  return dir_ + "/" + layout::jobs_dir + "/" + layout::job_dir_name(job_id);
}

std::string RunStore::require_job_dir(const std::string& job_id) const {
  std::string d = job_dir(job_id);
  T2_CHECK(path_exists(d + "/" + layout::job_file), "job '{}' was not begun in run '{}' (call begin_job first)",
           job_id, dir_);
  return d;
}

void RunStore::begin_job(const JobInfo& job) {
  std::string d = job_dir(job.id);
  if (path_exists(d + "/" + layout::done_marker)) return;  // finished: a resumed campaign leaves it alone
  if (!path_exists(d)) {
    make_dirs(d);
    fsync_path(dir_ + "/" + layout::jobs_dir);
  }
  JobInfo j = job;
  j.status = JobStatus::running;
  j.message.clear();
  j.finished_at.clear();
  j.attempts = 1;
  j.started_at = utc_now_iso();
  std::string jf = d + "/" + layout::job_file;
  if (path_exists(jf)) {
    JobInfo old = codec::read_job(h5::File::open(jf));
    T2_CHECK(old.id == job.id, "'{}' belongs to job '{}', not '{}'", jf, old.id, job.id);
    j.attempts = old.attempts + 1;
    if (!old.started_at.empty()) j.started_at = old.started_at;
  }
  write_h5_atomic(jf, [&](h5::File& f) { codec::write_job(f, j); });
}

void RunStore::set_job_status(const std::string& job_id, JobStatus status, const std::string& message) {
  std::string jf = require_job_dir(job_id) + "/" + layout::job_file;
  JobInfo j = codec::read_job(h5::File::open(jf));
  j.status = status;
  j.message = message;
  if (status == JobStatus::done || status == JobStatus::failed) {
    j.finished_at = utc_now_iso();
    double a = iso_seconds(j.started_at), b = iso_seconds(j.finished_at);
    if (a >= 0 && b >= 0) j.wall_seconds = b - a;
  }
  write_h5_atomic(jf, [&](h5::File& f) { codec::write_job(f, j); });
}

void RunStore::write_eval_batch(const std::string& job_id, const EvalBatch& batch) {
  T2_CHECK(batch.index >= 0, "job '{}': batch index must be >= 0, got {}", job_id, batch.index);
  std::string p = require_job_dir(job_id) + "/" + layout::eval_batch_file(batch.index);
  T2_CHECK(!path_exists(p), "job '{}': evaluation batch {} is already written ({}); a duplicate would count "
           "its examples twice", job_id, batch.index, p);
  write_h5_atomic(p, [&](h5::File& f) { codec::write_eval_batch(f, job_id, batch); });
}

void RunStore::write_checkpoint(const std::string& job_id, const CheckpointState& state) {
  std::string d = require_job_dir(job_id);
  RunReader r(dir_);
  auto steps = r.checkpoint_steps(job_id);
  T2_CHECK(steps.empty() || state.step > steps.back(),
           "job '{}': checkpoint step {} is not after the latest checkpoint (step {})", job_id, state.step,
           steps.empty() ? -1 : steps.back());
  write_h5_atomic(d + "/" + layout::checkpoint_file(state.step),
                  [&](h5::File& f) { codec::write_checkpoint(f, job_id, state); });
  // Prune only after the new one is durable; a kill in between just leaves one extra old file.
  steps.push_back(state.step);
  const size_t keep = static_cast<size_t>(std::max(1, keep_checkpoints));
  for (size_t i = 0; i + keep < steps.size(); ++i) ::unlink((d + "/" + layout::checkpoint_file(steps[i])).c_str());
}

void RunStore::write_cem_generation(const std::string& job_id, const CemGeneration& gen) {
  std::string d = require_job_dir(job_id);
  auto last = RunReader(dir_).latest_cem_generation(job_id);
  T2_CHECK(!last || gen.generation > last->generation,
           "job '{}': CEM generation {} is not after the latest one ({})", job_id, gen.generation,
           last ? last->generation : -1);
  write_h5_atomic(d + "/" + layout::cem_generation_file(gen.generation),
                  [&](h5::File& f) { codec::write_cem_generation(f, job_id, gen); });
}

void RunStore::write_metrics(const std::string& job_id, const Metrics& metrics) {
  std::string d = require_job_dir(job_id);
  write_h5_atomic(d + "/" + layout::result_file, [&](h5::File& f) { codec::write_metrics(f, job_id, metrics); });
}

void RunStore::write_unit(const std::string& job_id, const std::string& file_name,
                          const std::function<void(h5::File&)>& fill) {
  T2_CHECK(!file_name.empty() && file_name.find('/') == std::string::npos && file_name[0] != '.' &&
               !layout::is_temp_file(file_name),
           "unit file name '{}' must be a plain file name", file_name);
  for (const char* reserved : {layout::job_file, layout::result_file, layout::done_marker})
    T2_CHECK(file_name != reserved, "'{}' is written by RunStore itself", file_name);
  std::string d = require_job_dir(job_id);
  write_h5_atomic(d + "/" + file_name, fill);
}

void RunStore::mark_done(const std::string& job_id) {
  std::string d = require_job_dir(job_id);
  set_job_status(job_id, JobStatus::done);
  write_file_atomic(d + "/" + layout::done_marker, utc_now_iso() + "\n");
}

}  // namespace t2::results
