#include "coordinator/campaign-freeze.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "results/run-layout.h"
#include "results/run-reader.h"

namespace t2 {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string job_folder(const std::string& run_dir, const std::string& id) {
  return run_dir + "/" + results::layout::jobs_dir + "/" + results::layout::job_dir_name(id);
}

std::map<std::string, JobParams> read_recorded(const std::string& run_dir) {
  std::map<std::string, JobParams> out;
  const std::string path = job_params_path(run_dir);
  if (!path_exists(path)) return out;
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const std::exception& e) {
    throw FormatError(path + ": not valid JSON (" + e.what() + "); restore it or move the run directory aside");
  }
  if (!j.is_object()) throw FormatError(path + ": expected an object of job id -> {hash, params}");
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = JobParams::from_json(it.value());
  return out;
}

std::string canonical(const std::string& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}

}  // namespace

std::string frozen_campaign_path(const std::string& run_dir) { return run_dir + "/campaign.frozen.yaml"; }
std::string job_params_path(const std::string& run_dir) { return run_dir + "/job-params.json"; }

bool is_frozen_copy(const std::string& campaign_file, const std::string& run_dir) {
  return canonical(campaign_file) == canonical(frozen_campaign_path(run_dir));
}

std::vector<JobChange> find_campaign_changes(const std::string& run_dir, const std::map<std::string, JobParams>& now) {
  std::vector<JobChange> changes;
  // No run.h5 yet (a fresh directory, or one t2 submit only froze the campaign in): no records.
  if (!path_exists(run_dir + "/" + results::layout::run_file)) return changes;
  const auto recorded = read_recorded(run_dir);
  results::RunReader reader(run_dir);
  for (const auto& [id, params] : now) {
    if (!path_exists(job_folder(run_dir, id))) continue;  // never started: runs with the new parameters
    auto it = recorded.find(id);
    if (it == recorded.end() || it->second.hash.empty() || it->second.hash == params.hash) continue;
    JobChange ch;
    ch.job_id = id;
    ch.state = reader.is_done(id) ? "done" : "partial";
    ch.keys = changed_keys(it->second, params);
    if (ch.keys.empty()) ch.keys.push_back("(hash)");
    changes.push_back(std::move(ch));
  }
  return changes;
}

std::string describe_changes(const std::string& run_dir, const std::vector<JobChange>& changes,
                             const std::map<std::string, JobParams>& now) {
  const auto recorded = read_recorded(run_dir);
  std::string s = fmt::format(
      "{}: the campaign changed parameters of {} job(s) that already have results; their old and new results "
      "would mix:\n",
      run_dir, changes.size());
  for (const auto& ch : changes) {
    s += fmt::format("  {} ({}): changed {}\n", ch.job_id, ch.state, fmt::join(ch.keys, ", "));
    auto before = recorded.find(ch.job_id);
    auto after = now.find(ch.job_id);
    int shown = 0;
    for (const auto& k : ch.keys) {
      if (k.rfind("inputs.", 0) == 0 || before == recorded.end() || after == now.end()) continue;
      if (++shown > 3) break;
      auto b = before->second.values.find(k);
      auto a = after->second.values.find(k);
      s += fmt::format("      {}: {} -> {}\n", k, b == before->second.values.end() ? "(unset)" : b->second,
                       a == after->second.values.end() ? "(unset)" : a->second);
    }
  }
  s += "expected the campaign as frozen in " + frozen_campaign_path(run_dir) +
       " (new seeds, models or tasks may be added); rerun with --rerun-changed to recompute exactly these jobs "
       "(earlier records are kept under " + run_dir + "/superseded/), or use another output directory";
  return s;
}

std::string supersede_jobs(const std::string& run_dir, const std::vector<JobChange>& changes) {
  if (changes.empty()) return "";
  char host[128] = {0};
  gethostname(host, sizeof host - 1);
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string dest = fmt::format("{}/superseded/{}-{}-{}", run_dir, stamp, host, getpid());
  make_dirs(dest + "/" + results::layout::jobs_dir);
  for (const auto& ch : changes) {
    const std::string from = job_folder(run_dir, ch.job_id);
    if (path_exists(from))
      rename_durable(from, dest + "/" + results::layout::jobs_dir + "/" + results::layout::job_dir_name(ch.job_id));
    if (ch.job_id.rfind("decompose/", 0) == 0) {  // its SVD factors live in RUN_DIR/svd/<model>
      const std::string model = ch.job_id.substr(10);
      const std::string svd = run_dir + "/svd/" + model;
      if (path_exists(svd)) {
        make_dirs(dest + "/svd");
        rename_durable(svd, dest + "/svd/" + model);
      }
    }
  }
  fsync_path(run_dir + "/" + results::layout::jobs_dir);
  return dest;
}

void freeze_campaign(const std::string& run_dir, const Campaign& campaign, const std::map<std::string, JobParams>& now) {
  make_dirs(run_dir);
  auto recorded = read_recorded(run_dir);
  for (const auto& [id, p] : now) recorded[id] = p;
  json j = json::object();
  for (const auto& [id, p] : recorded) j[id] = p.to_json();
  write_file_atomic(job_params_path(run_dir), j.dump(1) + "\n");
  write_frozen_campaign(run_dir, campaign);
}

void write_frozen_campaign(const std::string& run_dir, const Campaign& campaign) {
  if (is_frozen_copy(campaign.file, run_dir)) return;
  make_dirs(run_dir);
  json r = campaign.resolved;
  r["output"] = fs::absolute(campaign.output).lexically_normal().string();
  // A task whose data come from elsewhere (a cls task's sources) resolves to `data: {}`, which the
  // loader does not accept as written: leave it out, as the user did.
  if (r.contains("tasks") && r["tasks"].is_object())
    for (auto& [name, t] : r["tasks"].items())
      if (t.is_object() && t.contains("data") && t["data"].is_object() && t["data"].empty()) t.erase("data");
  // A model given by Hub id is pinned to the snapshot it resolved to, so that a requeue whose cache
  // ref moved on still runs the same weights; the resolution record itself is not a campaign key.
  if (r.contains("models") && r["models"].is_object())
    for (auto& [name, m] : r["models"].items())
      if (m.is_object() && m.contains("hf_cache")) {
        const std::string commit = m["hf_cache"].value("commit", "");
        if (!commit.empty()) m["revision"] = commit;
        m.erase("hf_cache");
      }
  const std::string path = frozen_campaign_path(run_dir);
  const std::string text = "# The campaign " + campaign.file +
                           " as resolved when its run started (overrides, ${VAR} and defaults applied).\n"
                           "# Requeued Slurm jobs run this copy; t2 run refuses edits that would mix results.\n" +
                           r.dump(2) + "\n";
  // The copy must load into the same jobs with the same parameters, or every requeue would fail.
  CampaignLoadOptions lo;
  lo.check_model_paths = false;
  const Campaign back = parse_campaign(text, path, {}, lo);
  const auto want = job_params_of(campaign, expand_plan(campaign)), got = job_params_of(back, expand_plan(back));
  bool same = want.size() == got.size();
  for (const auto& [id, p] : want) {
    auto it = got.find(id);
    if (it == got.end() || it->second.hash != p.hash) {
      same = false;
      break;
    }
  }
  T2_CHECK(same, "{}: the frozen copy of {} does not load into the same jobs and parameters; not written", path,
           campaign.file);
  write_file_atomic(path, text);
}

void check_campaign_changes(const Campaign& c, const Plan& plan, bool rerun_changed) {
  if (rerun_changed) return;
  const auto now = job_params_of(c, plan);
  const auto changes = find_campaign_changes(c.output, now);
  if (!changes.empty()) throw UsageError(describe_changes(c.output, changes, now));
}

std::string settle_campaign_changes(const Campaign& c, const Plan& plan, bool rerun_changed) {
  const auto now = job_params_of(c, plan);
  const auto changes = find_campaign_changes(c.output, now);
  std::string line;
  if (!changes.empty()) {
    if (!rerun_changed) throw UsageError(describe_changes(c.output, changes, now));
    std::vector<std::string> ids;
    for (const auto& ch : changes) ids.push_back(ch.job_id);
    const std::string dest = supersede_jobs(c.output, changes);
    line = fmt::format("--rerun-changed: {} job(s) will be recomputed, their earlier records moved to {}: {}",
                       changes.size(), dest, fmt::join(ids, ", "));
  }
  freeze_campaign(c.output, c, now);
  return line;
}

}  // namespace t2
