#include "coordinator/campaign-data.h"

#include <algorithm>
#include <set>

#include "core/check.h"
#include "core/error.h"
#include "jobs/config-split.h"

namespace t2 {

tasks::TaskOptions campaign_task_options(const Campaign& c, const TaskSpec& t) {
  tasks::TaskOptions o;
  if (c.data_dir) o.data_root = *c.data_dir;
  for (const auto& [key, path] : t.data) o.files[key] = path;
  if (t.params.contains("compat"))
    for (const auto& s : t.params["compat"]) o.compat.insert(s.get<std::string>());
  if (t.params.contains("per_source") && t.params["per_source"].is_number_integer())
    o.cls_per_source = t.params["per_source"].get<size_t>();
  if (t.kind == "user") o.user_params = t.params.dump();
  o.sandbox.isolation = tasks::parse_sandbox_isolation(c.sandbox_isolation);
  return o;
}

CampaignTask::CampaignTask(const Campaign& c, const TaskSpec& spec)
    : campaign_(c), spec_(spec), task_(tasks::make_task(spec.kind, campaign_task_options(c, spec))) {}

std::string CampaignTask::sandbox_isolation() const {
  const auto& opt = task_->options();
  if (task_->runs_code()) {
    tasks::Sandbox sandbox(opt.sandbox);  // throws where the required isolation is unavailable
    return tasks::to_string(sandbox.info().level);
  }
  if (task_->kind() == "math" && opt.use_sympy) {
    tasks::SandboxOptions so = opt.sandbox;
    so.python = opt.python;
    const auto& info = tasks::probe_sandbox_support(so);
    return so.isolation == tasks::SandboxIsolation::namespaces && info.level != so.isolation
               ? "unavailable"
               : tasks::to_string(info.level);
  }
  return "none";
}

bool CampaignTask::has_role(const std::string& role) const {
  if (role.rfind("shots:", 0) == 0) return spec_.split.count("train") > 0 || spec_.split.count("test") > 0;
  if (role.rfind("test-without:", 0) == 0) return spec_.split.count("test") > 0;
  return spec_.split.count(role) > 0;
}

int CampaignTask::max_new_tokens() const { return static_cast<int>(spec_.max_new_tokens); }

std::vector<std::string> CampaignTask::stop_strings() const {
  if (spec_.params.contains("stop") && spec_.params["stop"].is_array())
    return spec_.params["stop"].get<std::vector<std::string>>();
  return task_->stop_strings();
}

std::string CampaignTask::shots_source() const { return spec_.split.count("train") ? "train" : "test"; }

std::string CampaignTask::evaluated_role(const std::string& shots_role) const {
  if (shots_role.empty() || shots_source() != "test") return "test";
  return "test-without:" + shots_role;
}

const std::vector<tasks::Example>& CampaignTask::examples(const std::string& role) const {
  auto it = cache_.find(role);
  if (it != cache_.end()) return it->second;
  return cache_.emplace(role, load_role(role)).first->second;
}

std::vector<tasks::Example> CampaignTask::cls_pool() const {
  // METHOD.md §6.2: math, code, reasoning sources in this order, the first per_source of each.
  const auto& sources = spec_.params.at("sources");
  size_t per_source = spec_.params.value("per_source", size_t{399});
  bool from_test = task_->options().has_compat(tasks::compat::cls_test_data);
  std::vector<tasks::Example> pool;
  for (const char* label : {"math", "code", "reasoning"}) {
    if (!sources.contains(label)) continue;
    const std::string src = sources[label].get<std::string>();
    const TaskSpec* s = campaign_.find_task(src);
    T2_CHECK_AS(UsageError, s, "task '{}': source '{}' for label {} is not a task of the campaign", spec_.name, src, label);
    CampaignTask source(campaign_, *s);
    // train splits only: test questions only with compat cls_test_data (the reference's recipe)
    T2_CHECK_AS(UsageError, from_test || source.has_role("train"),
                "task '{}': source '{}' (label {}) has no train split, so the classifier would be trained on "
                "test questions it later routes; give task '{}' a train split, or set compat: [cls_test_data] on "
                "task '{}' for the reference's contaminated data",
                spec_.name, src, label, src, spec_.name);
    const std::string role = from_test ? "test" : "train";
    const auto& exs = source.examples(role);
    for (size_t i = 0; i < std::min(per_source, exs.size()); ++i) {
      tasks::Example d = tasks::dispatch_example(exs[i]);
      d.id = std::string(label) + "/" + src + "/" + exs[i].id;
      d.index = pool.size();
      d.gold = {{"answer", label}, {"origin", exs[i].id}};
      pool.push_back(std::move(d));
    }
  }
  return pool;
}

std::vector<tasks::Example> CampaignTask::load_role(const std::string& role) const {
  if (role.rfind("shots:", 0) == 0) {
    // shots:<n>:<seed>, from the train split when the task has one, else from the test split (and
    // then the evaluation of the few-shot mixture uses "test-without:shots:<n>:<seed>")
    auto a = role.find(':', 6);
    T2_CHECK_AS(UsageError, a != std::string::npos, "bad role '{}'; expected shots:N:SEED", role);
    size_t n = std::stoul(role.substr(6, a - 6));
    uint64_t seed = std::stoull(role.substr(a + 1));
    const auto& pool = examples(shots_source());
    std::vector<int64_t> idx(pool.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    idx = python_shuffle(idx, seed);
    std::vector<tasks::Example> out;
    for (size_t i = 0; i < std::min(n, idx.size()); ++i) out.push_back(pool[static_cast<size_t>(idx[i])]);
    return out;
  }
  if (role.rfind("test-without:", 0) == 0) {
    // the test split minus the few-shot examples drawn from it, in test order
    std::set<std::string> shots;
    for (const auto& ex : examples(role.substr(13))) shots.insert(ex.id);
    std::vector<tasks::Example> out;
    for (const auto& ex : examples("test"))
      if (!shots.count(ex.id)) out.push_back(ex);
    return out;
  }
  auto rule_it = spec_.split.find(role);
  T2_CHECK_AS(UsageError, rule_it != spec_.split.end(), "task '{}' has no {} split (its splits: {})", spec_.name, role,
              [&] {
                std::string s;
                for (const auto& [r, _] : spec_.split) s += (s.empty() ? "" : ", ") + r;
                return s;
              }());
  SplitRule rule;
  std::string err;
  T2_CHECK_AS(UsageError, parse_split_rule(rule_it->second, rule, err), "task '{}': split {} '{}': {}", spec_.name, role,
              rule_it->second, err);
  std::vector<tasks::Example> records;
  if (spec_.kind == "cls" && rule.source == "pool") {
    records = cls_pool();
  } else {
    auto f = spec_.data.find(rule.source);
    T2_CHECK_AS(UsageError, f != spec_.data.end(), "task '{}': split {} reads data key '{}', which the task does not have",
                spec_.name, role, rule.source);
    records = task_->load_file(f->second);
  }
  std::vector<tasks::Example> out;
  for (int64_t i : apply_split(rule, static_cast<int64_t>(records.size()))) out.push_back(records[static_cast<size_t>(i)]);
  if (spec_.limit && out.size() > static_cast<size_t>(*spec_.limit)) out.resize(static_cast<size_t>(*spec_.limit));
  if (spec_.params.contains("system_prompt") && spec_.params["system_prompt"].is_string()) {
    const std::string sys = spec_.params["system_prompt"].get<std::string>();
    for (auto& ex : out) {
      if (!ex.messages.empty() && ex.messages[0].role == "system")
        ex.messages[0].content = sys;
      else
        ex.messages.insert(ex.messages.begin(), {"system", sys});
    }
  }
  return out;
}

const CampaignTask& CampaignTasks::get(const std::string& task_name) {
  auto it = tasks_.find(task_name);
  if (it != tasks_.end()) return *it->second;
  const TaskSpec* s = campaign_.find_task(task_name);
  T2_CHECK_AS(UsageError, s, "'{}' is not a task of campaign {}", task_name, campaign_.file);
  return *tasks_.emplace(task_name, std::make_unique<CampaignTask>(campaign_, *s)).first->second;
}

}  // namespace t2
