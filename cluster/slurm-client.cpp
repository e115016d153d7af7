#include "cluster/slurm-client.h"

#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/check.h"
#include "core/names.h"
#include "core/subprocess.h"

namespace t2 {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

int to_int(const std::string& s, int fallback) {
  try {
    return std::stoi(s);
  } catch (...) {
    return fallback;
  }
}

}  // namespace

bool SlurmJob::finished() const {
  static const std::vector<std::string> done{"COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT",   "NODE_FAIL",
                                             "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT"};
  for (const auto& d : done)
    if (state.rfind(d, 0) == 0) return true;  // sacct says "CANCELLED by 0"
  return false;
}

SlurmClient::SlurmClient(SlurmClientOptions opt) : opt_(std::move(opt)) {}

bool SlurmClient::available() {
  SubprocessOptions o;
  o.timeout = Seconds(10);
  try {
    return run_subprocess({"sh", "-c", "command -v sbatch && command -v scontrol"}, o).ok();
  } catch (...) {
    return false;
  }
}

std::string SlurmClient::run(const std::vector<std::string>& argv, bool allow_fail, int* exit_code) const {
  SubprocessOptions o;
  o.timeout = opt_.timeout;
  o.env_set = opt_.env;
  const SubprocessResult r = run_subprocess(argv, o);
  if (exit_code) *exit_code = r.exited ? r.exit_code : -1;
  if (r.timed_out)
    throw TimeoutError(fmt::format("`{}` did not finish within {:.3g} s (is slurmctld answering?)", join(argv, " "),
                                   opt_.timeout.count()));
  if (!r.ok() && !allow_fail)
    T2_FAIL("`{}` failed ({}): {}", join(argv, " "), r.describe(), trim(r.err.empty() ? r.out : r.err));
  return r.out;
}

std::string SlurmClient::submit(const std::string& script_path, const std::vector<std::string>& extra_args) const {
  std::vector<std::string> argv{"sbatch", "--parsable"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back(script_path);
  const std::string out = trim(run(argv));
  // "123" or "123;cluster"
  const std::string id = out.substr(0, out.find(';'));
  T2_CHECK(!id.empty() && id.find_first_not_of("0123456789") == std::string::npos,
           "sbatch --parsable {} printed '{}', expected a job id", script_path, out);
  return id;
}

std::vector<SlurmJob> SlurmClient::parse_show_job(const std::string& out) {
  std::vector<SlurmJob> jobs;
  for (const auto& line : split(out, '\n')) {
    if (trim(line).empty()) continue;
    std::map<std::string, std::string> kv;
    // key=value tokens separated by spaces; a value runs until the next " Key=" token
    std::istringstream in(line);
    std::string tok, last;
    while (in >> tok) {
      const auto eq = tok.find('=');
      if (eq != std::string::npos && eq > 0 && std::isupper(static_cast<unsigned char>(tok[0]))) {
        last = tok.substr(0, eq);
        kv[last] = tok.substr(eq + 1);
      } else if (!last.empty()) {
        kv[last] += " " + tok;
      }
    }
    if (!kv.count("JobId")) continue;
    SlurmJob j;
    j.array_job_id = kv.count("ArrayJobId") ? kv["ArrayJobId"] : "";
    j.array_task_id = kv.count("ArrayTaskId") ? kv["ArrayTaskId"] : "";
    j.job_id = j.array_job_id.empty() || j.array_task_id.empty() ? kv["JobId"] : j.array_job_id + "_" + j.array_task_id;
    j.name = kv["JobName"];
    j.state = kv["JobState"];
    j.reason = kv["Reason"];
    j.restarts = to_int(kv["Restarts"], 0);
    j.exit_code = kv["ExitCode"];
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// Rows "JobID|State|Reason-or-ExitCode|Name|Restarts" (squeue) or "JobID|State|ExitCode|JobName" (sacct).
std::vector<SlurmJob> SlurmClient::parse_rows(const std::string& out, const std::string& source) {
  std::vector<SlurmJob> jobs;
  for (const auto& line : split(out, '\n')) {
    if (trim(line).empty()) continue;
    const auto f = split(line, '|');
    T2_CHECK_AS(FormatError, f.size() >= 3, "{} printed '{}', expected '|'-separated fields", source, line);
    SlurmJob j;
    j.job_id = trim(f[0]);
    if (j.job_id.find('.') != std::string::npos) continue;  // job steps (123.batch, 123.0)
    const auto us = j.job_id.find('_');
    if (us != std::string::npos) {
      j.array_job_id = j.job_id.substr(0, us);
      j.array_task_id = j.job_id.substr(us + 1);
    }
    j.state = trim(f[1]);
    if (source == "squeue") {
      j.reason = trim(f[2]);
      if (f.size() > 3) j.name = trim(f[3]);
      if (f.size() > 4) j.restarts = to_int(trim(f[4]), 0);
    } else {
      j.exit_code = trim(f[2]);
      if (f.size() > 3) j.name = trim(f[3]);
    }
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<SlurmJob> SlurmClient::queue(const std::vector<std::string>& job_ids) const {
  T2_CHECK(!job_ids.empty(), "squeue: no job ids");
  // squeue fails for ids the controller forgot; then ask id by id
  int rc = 0;
  const std::string out = run({"squeue", "-h", "-r", "-j", join(job_ids, ","), "-o", "%i|%T|%r|%j|%R"}, true, &rc);
  if (rc == 0) return parse_rows(out, "squeue");
  std::vector<SlurmJob> all;
  for (const auto& id : job_ids) {
    const std::string one = run({"squeue", "-h", "-r", "-j", id, "-o", "%i|%T|%r|%j|%R"}, true, &rc);
    if (rc == 0)
      for (auto& j : parse_rows(one, "squeue")) all.push_back(std::move(j));
  }
  return all;
}

std::optional<std::vector<SlurmJob>> SlurmClient::show_job(const std::string& job_id) const {
  int rc = 0;
  const std::string out = run({"scontrol", "show", "job", "-o", job_id}, true, &rc);
  if (rc != 0) return std::nullopt;  // "Invalid job id specified"
  return parse_show_job(out);
}

std::vector<SlurmJob> SlurmClient::accounting(const std::vector<std::string>& job_ids, bool completion_file) const {
  T2_CHECK(!job_ids.empty(), "sacct: no job ids");
  std::vector<std::string> argv{"sacct"};
  if (completion_file) argv.push_back("-c");
  for (const auto& a : {"-n", "-P", "-X", "-j"}) argv.push_back(a);
  argv.push_back(join(job_ids, ","));
  argv.push_back("-o");
  argv.push_back("JobID,State,ExitCode,JobName");
  return parse_rows(run(argv), "sacct");
}

void SlurmClient::cancel(const std::vector<std::string>& job_ids, const std::string& signal, bool batch_only) const {
  T2_CHECK(!job_ids.empty(), "scancel: no job ids");
  std::vector<std::string> argv{"scancel"};
  if (!signal.empty()) argv.push_back("--signal=" + signal);
  if (batch_only) argv.push_back("--batch");
  argv.insert(argv.end(), job_ids.begin(), job_ids.end());
  run(argv);
}

void SlurmClient::requeue(const std::string& job_id) const { run({"scontrol", "requeue", job_id}); }

std::vector<SlurmJob> SlurmClient::wait_until(const std::string& job_id, bool (*done)(const SlurmJob&),
                                              const Deadline& deadline, const std::string& what) const {
  std::vector<SlurmJob> last;
  for (;;) {
    if (auto jobs = show_job(job_id)) {
      last = *jobs;
      bool all = !last.empty();
      for (const auto& j : last) all = all && done(j);
      if (all) return last;
    }
    if (deadline.expired()) {
      std::vector<std::string> states;
      for (const auto& j : last) states.push_back(j.job_id + " " + j.state + (j.reason.empty() ? "" : " (" + j.reason + ")"));
      throw TimeoutError(fmt::format("slurm job {}: {} did not happen before the deadline; last states: {}", job_id,
                                     what, states.empty() ? "unknown to the controller" : join(states, ", ")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

RequeueDecision requeue_self(const SlurmClient& client, const std::map<std::string, std::string>& env,
                             int max_restarts) {
  RequeueDecision d;
  auto get = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  const std::string job = get("SLURM_JOB_ID");
  if (job.empty()) {
    d.why = "not running under Slurm (SLURM_JOB_ID unset): nothing to requeue";
    return d;
  }
  const std::string array_job = get("SLURM_ARRAY_JOB_ID"), task = get("SLURM_ARRAY_TASK_ID");
  d.job_id = !array_job.empty() && !task.empty() ? array_job + "_" + task : job;
  const std::string rc = get("SLURM_RESTART_COUNT");
  d.restart_count = rc.empty() ? 0 : to_int(rc, -1);
  T2_CHECK_AS(UsageError, d.restart_count >= 0, "SLURM_RESTART_COUNT='{}' is not a non-negative integer", rc);
  if (d.restart_count >= max_restarts) {
    d.why = fmt::format("job {} already restarted {} time(s), the limit is {}: not requeued", d.job_id,
                        d.restart_count, max_restarts);
    return d;
  }
  client.requeue(d.job_id);
  d.requeued = true;
  d.why = fmt::format("requeued job {} (restart {} of at most {})", d.job_id, d.restart_count + 1, max_restarts);
  return d;
}

}  // namespace t2
