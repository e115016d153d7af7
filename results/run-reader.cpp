#include "results/run-reader.h"

#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "core/files.h"
#include "results/hdf5-file.h"
#include "results/run-codec.h"
#include "results/run-layout.h"

namespace fs = std::filesystem;

namespace t2::results {

RunReader::RunReader(std::string run_dir) : dir_(std::move(run_dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  T2_CHECK_AS(UsageError, path_exists(dir_ + "/" + layout::run_file),
              "'{}' is not a t2 run directory (no {} in it)", dir_, layout::run_file);
}

RunMeta RunReader::meta() const { return codec::read_meta(h5::File::open(dir_ + "/" + layout::run_file)); }

std::string RunReader::job_dir(const std::string& job_id) const {
  return dir_ + "/" + layout::jobs_dir + "/" + layout::job_dir_name(job_id);
}

std::string RunReader::unit_path(const std::string& job_id, const std::string& file_name) const {
  return job_dir(job_id) + "/" + file_name;
}

std::vector<std::string> RunReader::job_ids() const {
  std::vector<std::string> ids;
  std::string jobs = dir_ + "/" + layout::jobs_dir;
  if (!path_exists(jobs)) return ids;
  for (auto& e : fs::directory_iterator(jobs)) {
    if (!e.is_directory()) continue;
    std::string name = e.path().filename().string();
    if (!path_exists(e.path().string() + "/" + layout::job_file)) continue;  // created, never begun
    ids.push_back(layout::job_id_from_dir(name));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<JobInfo> RunReader::job(const std::string& job_id) const {
  std::string p = unit_path(job_id, layout::job_file);
  if (!path_exists(p)) return std::nullopt;
  return codec::read_job(h5::File::open(p));
}

bool RunReader::is_done(const std::string& job_id) const {
  return path_exists(unit_path(job_id, layout::done_marker));
}

JobStatus RunReader::job_status(const std::string& job_id) const {
  if (is_done(job_id)) return JobStatus::done;
  auto j = job(job_id);
  if (!j) return JobStatus::pending;
  // job.h5 may say done only with DONE present; before the marker the job is not complete.
  return j->status == JobStatus::done ? JobStatus::running : j->status;
}

std::vector<std::pair<int64_t, std::string>> RunReader::units(const std::string& job_id,
                                                               const std::string& prefix) const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::string d = job_dir(job_id);
  if (!path_exists(d)) return out;
  for (auto& e : fs::directory_iterator(d)) {
    std::string name = e.path().filename().string();
    if (auto i = layout::parse_unit_index(name, prefix)) out.emplace_back(*i, e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> RunReader::eval_batches(const std::string& job_id) const {
  std::vector<int64_t> out;
  for (auto& [i, p] : units(job_id, "eval-")) out.push_back(i);
  return out;
}

std::vector<int64_t> RunReader::missing_eval_batches(const std::string& job_id, int64_t total) const {
  auto have = eval_batches(job_id);
  std::vector<int64_t> out;
  size_t k = 0;
  for (int64_t i = 0; i < total; ++i) {
    while (k < have.size() && have[k] < i) ++k;
    if (k < have.size() && have[k] == i) continue;
    out.push_back(i);
  }
  return out;
}

int64_t RunReader::next_eval_batch(const std::string& job_id) const {
  int64_t next = 0;
  for (int64_t i : eval_batches(job_id)) {
    if (i != next) break;
    ++next;
  }
  return next;
}

EvalBatch RunReader::read_eval_batch(const std::string& job_id, int64_t index) const {
  std::string p = unit_path(job_id, layout::eval_batch_file(index));
  T2_CHECK_AS(UsageError, path_exists(p), "job '{}' has no evaluation batch {} ({} missing)", job_id, index, p);
  auto b = codec::read_eval_batch(h5::File::open(p));
  T2_CHECK_AS(FormatError, b.index == index, "'{}' says batch_index {}, its name says {}", p, b.index, index);
  return b;
}

std::vector<ExampleRecord> RunReader::read_examples(const std::string& job_id) const {
  std::vector<ExampleRecord> out;
  for (auto& [i, p] : units(job_id, "eval-")) {
    auto b = codec::read_eval_batch(h5::File::open(p));
    out.insert(out.end(), std::make_move_iterator(b.records.begin()), std::make_move_iterator(b.records.end()));
  }
  return out;
}

std::vector<int64_t> RunReader::checkpoint_steps(const std::string& job_id) const {
  std::vector<int64_t> out;
  for (auto& [i, p] : units(job_id, "ckpt-")) out.push_back(i);
  return out;
}

std::optional<int64_t> RunReader::latest_checkpoint_step(const std::string& job_id) const {
  auto s = checkpoint_steps(job_id);
  if (s.empty()) return std::nullopt;
  return s.back();
}

CheckpointState RunReader::read_checkpoint(const std::string& job_id, int64_t step) const {
  std::string p = unit_path(job_id, layout::checkpoint_file(step));
  T2_CHECK_AS(UsageError, path_exists(p), "job '{}' has no checkpoint at step {} ({} missing)", job_id, step, p);
  auto s = codec::read_checkpoint(h5::File::open(p));
  T2_CHECK_AS(FormatError, s.step == step, "'{}' says step {}, its name says {}", p, s.step, step);
  return s;
}

std::optional<CheckpointState> RunReader::latest_checkpoint(const std::string& job_id) const {
  auto s = latest_checkpoint_step(job_id);
  if (!s) return std::nullopt;
  return read_checkpoint(job_id, *s);
}

TrainingCurve RunReader::training_curve(const std::string& job_id) const {
  auto s = latest_checkpoint_step(job_id);
  if (!s) return {};
  auto f = h5::File::open(unit_path(job_id, layout::checkpoint_file(*s)));
  codec::check_header(f, "t2-checkpoint");
  return codec::read_curve(f);
}

std::vector<CemGeneration> RunReader::cem_history(const std::string& job_id) const {
  std::vector<CemGeneration> out;
  for (auto& [i, p] : units(job_id, "cem-gen-")) out.push_back(codec::read_cem_generation(h5::File::open(p)));
  return out;
}

std::optional<CemGeneration> RunReader::latest_cem_generation(const std::string& job_id) const {
  auto u = units(job_id, "cem-gen-");
  if (u.empty()) return std::nullopt;
  return codec::read_cem_generation(h5::File::open(u.back().second));
}

std::optional<Metrics> RunReader::metrics(const std::string& job_id) const {
  std::string p = unit_path(job_id, layout::result_file);
  if (!path_exists(p)) return std::nullopt;
  return codec::read_metrics(h5::File::open(p));
}

std::vector<std::string> RunReader::verify() const {
  std::vector<std::string> problems;
  auto check = [&](const fs::path& p) {
    std::string why;
    if (!h5::is_readable_hdf5(p.string(), &why)) problems.push_back(p.string() + ": " + why);
  };
  try {
    meta();
  } catch (const std::exception& e) {
    problems.push_back(std::string(layout::run_file) + ": " + e.what());
  }
  std::string jobs = dir_ + "/" + layout::jobs_dir;
  if (!path_exists(jobs)) return problems;
  for (auto& d : fs::directory_iterator(jobs)) {
    if (!d.is_directory()) continue;
    for (auto& e : fs::directory_iterator(d.path())) {
      std::string name = e.path().filename().string();
      if (layout::is_temp_file(name) || e.path().extension() != ".h5") continue;
      check(e.path());
    }
  }
  return problems;
}

}  // namespace t2::results
