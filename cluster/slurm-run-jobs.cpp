#include "cluster/slurm-run-jobs.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"

namespace t2 {

std::string slurm_jobs_path(const std::string& run_dir) { return run_dir + "/slurm/jobs.json"; }

std::vector<SubmittedJob> read_submitted_jobs(const std::string& run_dir) {
  const std::string path = slurm_jobs_path(run_dir);
  if (!path_exists(path)) return {};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    T2_FAIL_AS(FormatError, "{}: not valid JSON at byte {}: {}", path, e.byte, e.what());
  }
  T2_CHECK_AS(FormatError, j.is_object() && j.value("version", 0) == 1 && j.contains("jobs") && j["jobs"].is_array(),
              "{}: expected {{\"version\": 1, \"jobs\": [...]}}", path);
  std::vector<SubmittedJob> out;
  for (size_t i = 0; i < j["jobs"].size(); ++i) {
    const auto& e = j["jobs"][i];
    T2_CHECK_AS(FormatError, e.is_object() && e.contains("job_id") && e["job_id"].is_string(),
                "{}: jobs[{}].job_id: expected a string", path, i);
    SubmittedJob s;
    s.job_id = e["job_id"].get<std::string>();
    s.script = e.value("script", "");
    s.shape = e.value("shape", "");
    s.array = e.value("array", "");
    s.submitted_at = e.value("submitted_at", "");
    out.push_back(std::move(s));
  }
  return out;
}

void record_submitted_job(const std::string& run_dir, const SubmittedJob& job) {
  auto jobs = read_submitted_jobs(run_dir);
  SubmittedJob j = job;
  if (j.submitted_at.empty()) {
    char buf[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    j.submitted_at = buf;
  }
  jobs.push_back(j);
  nlohmann::json out = {{"version", 1}, {"jobs", nlohmann::json::array()}};
  for (const auto& s : jobs)
    out["jobs"].push_back({{"job_id", s.job_id}, {"script", s.script}, {"shape", s.shape}, {"array", s.array},
                           {"submitted_at", s.submitted_at}});
  make_dirs(run_dir + "/slurm");
  write_file_atomic(slurm_jobs_path(run_dir), out.dump(2) + "\n");
}

std::vector<RunJobState> run_job_states(const std::string& run_dir, const SlurmClient& client) {
  std::vector<RunJobState> states;
  for (const auto& job : read_submitted_jobs(run_dir)) {
    RunJobState s{job, {}};
    if (auto shown = client.show_job(job.job_id)) {
      s.tasks = *shown;
    } else {
      // forgotten by the controller (MinJobAge passed): the job-completion record
      try {
        s.tasks = client.accounting({job.job_id});
      } catch (const TimeoutError&) {
        throw;
      } catch (const Error&) {
        // no accounting either: leave the tasks empty ("unknown")
      }
    }
    states.push_back(std::move(s));
  }
  return states;
}

std::vector<std::string> cancel_run_jobs(const std::string& run_dir, const SlurmClient& client) {
  std::vector<std::string> cancelled;
  for (const auto& s : run_job_states(run_dir, client)) {
    bool live = false;
    for (const auto& t : s.tasks) live = live || !t.finished();
    if (!live) continue;
    client.cancel({s.job.job_id});
    cancelled.push_back(s.job.job_id);
  }
  return cancelled;
}

}  // namespace t2
