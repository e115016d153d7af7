#include "coordinator/progress-run-dir.h"

#include <cmath>
#include <fmt/format.h>

#include "results/run-reader.h"

namespace t2 {

nlohmann::json run_dir_status(const std::string& run_dir) {
  using nlohmann::json;
  results::RunReader reader(run_dir);
  const auto meta = reader.meta();
  json out;
  out["run"] = {{"dir", run_dir},         {"name", meta.name},         {"started_at", meta.started_at},
                {"ended_at", meta.ended_at}, {"sessions", meta.sessions}, {"ranks", meta.ranks},
                {"sandbox_isolation", meta.sandbox_isolation}};
  json jobs = json::array();
  std::map<std::string, int> counts;
  for (const auto& id : reader.job_ids()) {
    json j;
    j["id"] = id;
    const auto info = reader.job(id);
    const auto status = reader.job_status(id);
    j["state"] = results::job_status_name(status);
    ++counts[j["state"].get<std::string>()];
    j["kind"] = info ? info->kind : "";
    j["attempts"] = info ? info->attempts : 0;
    j["wall_seconds"] = info ? info->wall_seconds : 0.0;
    if (info && !info->message.empty()) j["message"] = info->message;
    json progress = json::object(), metrics = json::object();
    if (const auto batches = reader.eval_batches(id); !batches.empty()) progress["eval_batches"] = batches.size();
    if (const auto step = reader.latest_checkpoint_step(id)) {
      progress["step"] = *step;
      const auto curve = reader.training_curve(id);
      if (!curve.points.empty()) {
        const auto& p = curve.points.back();
        metrics["reward_mean"] = p.reward_mean;
        metrics["loss"] = p.loss;
        for (auto it = curve.points.rbegin(); it != curve.points.rend(); ++it)
          if (!std::isnan(it->val_accuracy)) {
            metrics["val_accuracy"] = it->val_accuracy;
            break;
          }
      }
    }
    if (const auto gen = reader.latest_cem_generation(id)) {
      progress["generation"] = gen->generation;
      metrics["best_score"] = gen->best_score;
    }
    if (const auto m = reader.metrics(id)) {
      metrics["accuracy"] = m->accuracy;
      metrics["n"] = m->n;
      for (const auto& [k, v] : m->extra) metrics[k] = v;
    }
    j["progress"] = progress;
    j["metrics"] = metrics;
    jobs.push_back(std::move(j));
  }
  out["jobs"] = jobs;
  out["counts"] = counts;
  return out;
}

std::string run_dir_status_text(const nlohmann::json& s) {
  const auto& run = s["run"];
  std::string out = fmt::format("run {} ({}), started {}{}, {} session(s)\n", run["name"].get<std::string>(),
                                run["dir"].get<std::string>(), run["started_at"].get<std::string>(),
                                run["ended_at"].get<std::string>().empty()
                                    ? ""
                                    : ", ended " + run["ended_at"].get<std::string>(),
                                run["sessions"].get<int64_t>());
  const std::string iso = run.value("sandbox_isolation", "");
  if (!iso.empty())
    out += "code sandbox: " + iso +
           (iso == "rlimits" ? " (opted out of namespaces: generated code ran with resource limits only, without "
                               "file-system or network isolation)\n"
                             : " (user, PID, network and mount namespaces)\n");
  out += fmt::format("{:<52} {:<16} {:<8} {:<20} {}\n", "job", "kind", "state", "progress", "latest metrics");
  for (const auto& j : s["jobs"]) {
    std::string progress;
    for (const auto& [k, v] : j["progress"].items()) progress += (progress.empty() ? "" : " ") + k + " " + v.dump();
    std::string metrics;
    for (const auto& [k, v] : j["metrics"].items())
      metrics += (metrics.empty() ? "" : ", ") + k + " " +
                 (v.is_number_float() ? fmt::format("{:.4g}", v.get<double>()) : v.dump());
    if (j.contains("message")) metrics += (metrics.empty() ? "" : "; ") + j["message"].get<std::string>();
    out += fmt::format("{:<52} {:<16} {:<8} {:<20} {}\n", j["id"].get<std::string>(), j["kind"].get<std::string>(),
                       j["state"].get<std::string>(), progress.empty() ? "-" : progress, metrics);
  }
  std::string counts;
  for (const auto& [k, v] : s["counts"].items()) counts += (counts.empty() ? "" : ", ") + v.dump() + " " + k;
  out += "jobs: " + (counts.empty() ? std::string("none started") : counts) + "\n";
  return out;
}

}  // namespace t2
