// A campaign: the YAML file that names models, tasks, experiments and the Slurm shape of a t2 run,
// loaded, overridden, expanded (${VAR}) and validated into plain values. docs/campaign.md
// documents every key. This header is torch-free and yaml-free: the coordinator uses it directly.
//
//   t2::Campaign c = t2::load_campaign("examples/paper-llama3-8b.yaml", {"seed=[1,2,3]"});
//   t2::Plan plan = t2::expand_plan(c);          // jobs/job-plan.h
//
// Every problem in the file is reported at once in a single t2::UsageError (exit code 2), one line
// per problem: "FILE:LINE:COL: key.path: what is wrong; expected ...". Nothing is written anywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2 {

struct ModelSpec {
  std::string name;
  std::string path;            // the model folder: as given, or the cache snapshot of a Hub id
  std::string revision;        // of a Hub id ("" = main)
  std::string hf_id, hf_commit;  // the Hub id and the snapshot hash it resolved to; empty for a folder
  std::string dtype;           // fp32 | bf16 | fp16
  int64_t tp = 1;              // tensor-parallel degree, a power of two
  std::string chat_template;   // auto | llama3 | mistral | chatml | none
  double gpu_memory_gb = 80;
  nlohmann::json params;       // every resolved key of the model
};

struct TaskSpec {
  std::string name;
  std::string kind;                         // a registered task kind (jobs/registry-builtin.h)
  std::string family;                       // math | code | reasoning | classification | other
  std::map<std::string, std::string> data;  // data key -> file path (after ${VAR} expansion)
  std::map<std::string, std::string> split; // role (train/valid/test) -> split rule (jobs/config-split.h)
  int64_t max_new_tokens = 512;
  std::optional<int64_t> limit;             // only the first N test items
  nlohmann::json params;                    // every resolved key of the task (prompt overrides, compat, ...)
};

struct ExperimentSpec {
  std::string name;
  std::string kind;                         // decompose | train_expert | classifier_expert | fewshot_search | evaluate
  std::vector<std::string> models;          // sweep axes (resolved: never empty where the kind uses it)
  std::vector<std::string> tasks;
  std::vector<std::string> methods;
  std::vector<int64_t> seeds;
  std::vector<std::string> depends_on;      // explicit dependencies on other experiments
  nlohmann::json params;                    // hyperparameter -> value, or -> list of values (a sweep axis)
  std::vector<std::string> swept;           // the hyperparameters given as lists, in schema order
  nlohmann::json exclude;                   // list of {model, task, method, seed} partial cells
  // For messages about this experiment: its key path ("experiments.eval") and where each of its
  // keys is ("FILE:LINE:COL" or "<override N>"; "" = the experiment itself).
  std::string key_path;
  std::map<std::string, std::string> where;
};

struct SlurmSpec {
  std::optional<std::string> partition, account, qos, mem;
  std::string time = "24:00:00";
  int64_t nodes = 1;
  int64_t gpus_per_node = 8;
  int64_t cpus_per_task = 8;
  int64_t signal_seconds = 300;             // --signal=B:USR1@N before the time limit
  bool requeue = true;
  std::vector<std::string> extra;           // verbatim "#SBATCH ..." lines
};

struct Campaign {
  std::string file;                         // as given (messages use it)
  std::string name;
  std::string output;                       // run directory, relative to the current directory
  std::optional<std::string> data_dir;
  std::vector<int64_t> seeds;
  std::string device = "auto";              // auto | cpu | cuda: where worker ranks compute (cluster/placement.h)
  std::vector<ModelSpec> models;
  std::vector<TaskSpec> tasks;
  std::vector<ExperimentSpec> experiments;  // in file order (decompose jobs are added by expand_plan as needed)
  SlurmSpec slurm;
  std::map<std::string, double> timeouts;   // named timeouts in seconds (core/deadline.h)
  // The code sandbox's isolation (`sandbox.isolation`): "namespaces" (required by default; code tasks
  // stop where the kernel refuses them) or "rlimits" (the explicit opt-out). jobs/sandbox.h
  std::string sandbox_isolation = "namespaces";
  nlohmann::json resolved;                  // the whole campaign after overrides, ${VAR} and defaults

  const ModelSpec* find_model(const std::string& name) const;
  const TaskSpec* find_task(const std::string& name) const;
  const ExperimentSpec* find_experiment(const std::string& name) const;
};

struct CampaignLoadOptions {
  bool check_data_files = true;      // data files must exist (dry runs too: they are cheap to check)
  bool check_model_paths = false;    // model folders must exist (off for dry runs: examples hold placeholders)
  // Where ${NAME} looks after the campaign's top-level keys; the process environment by default.
  std::function<std::optional<std::string>(const std::string&)> env;
};

// Reads, overrides, expands and validates a campaign file. Throws UsageError (exit 2) listing every
// problem; a missing or unreadable file is a UsageError too.
Campaign load_campaign(const std::string& path, const std::vector<std::string>& overrides = {},
                       const CampaignLoadOptions& options = {});

// Every key the campaign schema accepts, as a path: "seed", "models.dtype", "tasks.limit" (every
// task kind), "tasks.user.scorer" (one kind), "experiments.kind", "experiments.train_expert.lr",
// "slurm.time", "timeouts.generate", "sandbox.isolation". Built from the same lists the loader
// checks keys against, so a key added to the schema appears here (tests/jobs/campaign's schema test
// then asks for its observable effect).
std::vector<std::string> campaign_schema_keys();

// The same from text; `file` labels the messages.
Campaign parse_campaign(const std::string& yaml_text, const std::string& file,
                        const std::vector<std::string>& overrides = {}, const CampaignLoadOptions& options = {});

}  // namespace t2
