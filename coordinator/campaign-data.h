// The examples a campaign's task contributes to each role (train / valid / test / shots), resolved
// from the campaign exactly as docs/campaign.md specifies: the task's data files, its split rules
// (jobs/config-split.h), `limit`, prompt overrides and compat switches. Every rank builds the same
// lists from the same campaign file, so work items only carry example indices. Torch-free.
//
// Splits cannot leak: few-shot examples come from the train split when the task has one; otherwise
// from the test split, and the few-shot method is then evaluated on the rest (its n says so).
//
// The `cls` task is built from the campaign's own source tasks (its `sources`: label -> task), not
// from fixed files: the first `per_source` questions of each source's train split (its test split
// with compat cls_test_data, the reference's contaminated recipe), concatenated math, code, reasoning,
// form the "pool" that its split rules select from (METHOD.md §6.2).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobs/campaign.h"
#include "jobs/task.h"

namespace t2 {

tasks::TaskOptions campaign_task_options(const Campaign& c, const TaskSpec& t);

class CampaignTask {
 public:
  CampaignTask(const Campaign& c, const TaskSpec& spec);

  const TaskSpec& spec() const { return spec_; }
  const tasks::Task& task() const { return *task_; }
  bool has_role(const std::string& role) const;
  // The examples of a role: "train", "valid", "test"; "shots:<n>:<seed>" (the few-shot examples of
  // §6.3: the first n after a Python-exact shuffle with that seed of the train split when the task
  // has one, else of the test split); "test-without:shots:<n>:<seed>" (the test split minus those
  // shots, in test order). Cached.
  const std::vector<tasks::Example>& examples(const std::string& role) const;
  // "train" when the task has a train split, else "test": where few-shot examples come from.
  std::string shots_source() const;
  // The role a method adapted on `shots_role` ("" for none) is evaluated on: "test", or the test
  // split without the shots when they came from it, so that no evaluated example was seen.
  std::string evaluated_role(const std::string& shots_role) const;
  int max_new_tokens() const;
  std::vector<std::string> stop_strings() const;
  // The code sandbox's isolation this task's scoring reaches ("namespaces" or "rlimits"), "none" for
  // a task that runs no generated code. Code tasks throw UsageError (exit 2) naming the kernel
  // setting when the campaign requires namespaces and the machine refuses them; MATH's sympy
  // fallback then answers "undecided" and this says "unavailable".
  std::string sandbox_isolation() const;

 private:
  std::vector<tasks::Example> load_role(const std::string& role) const;
  std::vector<tasks::Example> cls_pool() const;

  const Campaign& campaign_;
  TaskSpec spec_;
  std::unique_ptr<tasks::Task> task_;
  mutable std::map<std::string, std::vector<tasks::Example>> cache_;
};

// One CampaignTask per task name, built on first use.
class CampaignTasks {
 public:
  explicit CampaignTasks(const Campaign& c) : campaign_(c) {}
  const CampaignTask& get(const std::string& task_name);

 private:
  const Campaign& campaign_;
  std::map<std::string, std::unique_ptr<CampaignTask>> tasks_;
};

}  // namespace t2
