// The registries the campaign schema validates against: task kinds (with their METHOD.md
// defaults), experiment kinds (with their hyperparameters), evaluation methods, optimizers,
// dispatch routes and scorers. Each is filled once with the built-in names; the task suites and
// the coordinator can add() or replace() entries before a campaign is loaded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/config-schema.h"
#include "jobs/registry.h"

namespace t2 {

struct TaskKind {
  std::string family;                     // math | code | reasoning | classification | other
  std::vector<std::string> data_keys;     // the data files this kind reads (keys of `data`)
  bool any_data_keys = false;             // user tasks name their own files
  nlohmann::json default_data;            // data key -> path below data_dir (object)
  nlohmann::json default_split;           // role (train/valid/test) -> split rule (object)
  int64_t max_new_tokens = 512;
  std::optional<int64_t> shots_seed;      // seed of the few-shot shuffle (METHOD.md §6.3)
  std::vector<ParamSpec> extra;           // kind-specific keys (user: prompt/scorer/..., cls: sources)
  std::vector<std::string> compat;        // compat switches this kind understands (plus "original" = all)
  std::string doc;
};

struct ExperimentKind {
  std::vector<std::string> axes;          // which of models, tasks, methods it expands over
  std::vector<ParamSpec> params;          // hyperparameters with their METHOD.md defaults
  std::string doc;
};

struct EvalMethod {
  std::vector<std::string> needs;         // upstream artefacts: experts, classifier, fewshot
  std::string doc;
};

Registry<TaskKind>& task_kinds();
Registry<ExperimentKind>& experiment_kinds();
Registry<EvalMethod>& eval_methods();
Registry<std::string>& train_optimizers();   // adam, adamw
Registry<std::string>& search_optimizers();  // cem, random_shooting
Registry<std::string>& other_routes();       // base, last_expert (where "other" samples go)
Registry<std::string>& scorers();            // exact, numeric, regex, multiple_choice, code

// The keys every campaign task has, whatever its kind: max_new_tokens, limit, system_prompt, stop,
// shots_seed, family (kinds add theirs in TaskKind::extra).
std::vector<ParamSpec> task_common_specs();

// The dispatch labels of the prompt and classifier strategies (METHOD.md §6.1).
const std::vector<std::string>& dispatch_labels();

// What each task compat switch reproduces (docs/campaign.md lists them; jobs/task.h implements them).
const std::vector<std::pair<std::string, std::string>>& task_compat_switches();

}  // namespace t2
