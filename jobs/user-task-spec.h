// The schema of a user task (task kind `user`, docs/tasks.md): ONE list of keys, checked by the same
// rules with the same messages whether it comes from a campaign's task entry
//
//   tasks: {capitals: {kind: user, data: {test: capitals.jsonl}, scorer: exact, prompt: "..."}}
//
// or from the YAML file of `t2 score user --spec FILE`, which holds the same keys plus the file-only
// ones: name, files (split -> JSONL, relative to the spec file) or data (one JSONL, the test split).
// A checked spec travels to the task as JSON (TaskOptions::user_params). Torch-free.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/config-problems.h"
#include "jobs/config-schema.h"
#include "jobs/yaml-tree.h"

namespace t2 {

// The keys of a user task beyond the keys every campaign task has (task_common_specs()): scorer,
// prompt, question_field, answer_field, id_field, prefill, extract, case_sensitive, tolerance,
// choices_field, chat_template.
std::vector<ParamSpec> user_task_specs();

// Every key of a spec file: the common task keys a user task uses (system_prompt, max_new_tokens,
// stop), user_task_specs(), then name, files and data.
std::vector<std::string> user_task_file_keys();

// Rules between keys (scorer multiple_choice needs choices_field; extract must compile), recorded
// as problems at `at` under `key_path` ("tasks.capitals" or "").
void check_user_task_rules(const nlohmann::json& params, const yaml::Origin& at, const std::string& key_path,
                           ConfigProblems& problems);

// Reads and checks a spec file: UsageError (exit 2) listing every problem as
// "FILE:LINE:COL: key: what; expected ...". Returns every key resolved (defaults filled), with
// "files" mapping split -> path (relative paths resolved against the file's folder).
nlohmann::json load_user_task_file(const std::string& path);

}  // namespace t2
