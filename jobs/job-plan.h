// The expanded campaign: a DAG of jobs the coordinator schedules and `t2 submit` renders into Slurm
// scripts. A plain value, torch- and yaml-free.
//
// Job ids are stable and readable:
//   decompose/<model>
//   train_expert/<model>/<task>/seed<S>[/<variant>]
//   train_peft/<model>/<task>/<method>/seed<S>[/<variant>]
//   classifier_expert/<model>/seed<S>[/<variant>]
//   fewshot_search/<model>/<task>/seed<S>[/<variant>]
//   evaluate/<model>/<task>/<method>/seed<S>[/<variant>]
// where <variant> names the swept hyperparameters ("kl_coef=0.1", or "experts.kl_coef=0.1" for a
// value inherited from the experiment a job consumes). docs/campaign.md gives the dependency rules.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/campaign.h"

namespace t2 {

struct Job {
  std::string id;
  std::string kind;        // decompose | train_expert | train_peft | classifier_expert | fewshot_search | evaluate
  std::string experiment;  // the experiment that produced it
  std::string model, task, method;  // "" where the kind has no such axis
  int64_t seed = -1;       // -1 for decompose
  std::string variant;     // "" or "lr=0.001,experts.kl_coef=0.1"
  nlohmann::json params;   // everything the job needs: hyperparameters and the ids of its inputs
  std::vector<std::string> deps;
};

struct Plan {
  std::string campaign;
  std::vector<Job> jobs;   // in a topological order (every job after its dependencies)

  const Job* find(const std::string& id) const;
  size_t edge_count() const;
  std::map<std::string, size_t> count_by_kind() const;
  // Ids in a stable topological order; throws t2::Error "dependency cycle: a -> b -> a" when
  // there is a cycle and names a dependency that is not a job of the plan.
  std::vector<std::string> topological_order() const;
  nlohmann::json to_json() const;
  // One line per job ("id  kind  <- deps"), then a summary line with counts per kind.
  std::string to_text() const;
};

// Expands the experiments of a valid campaign into jobs (sweeps, implicit decompose jobs,
// dependency edges). A cell whose input no experiment produces is a UsageError naming the cell
// and the experiment's position in the file; so is a dependency cycle through depends_on.
Plan expand_plan(const Campaign& campaign);

}  // namespace t2
