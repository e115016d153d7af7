#include "jobs/user-task-spec.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/names.h"
#include "jobs/answer-regex.h"
#include "jobs/registry-builtin.h"

namespace t2 {

using nlohmann::json;

namespace {

ParamSpec key(const std::string& name, ParamType type, json def, bool nullable, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = type, s.default_value = std::move(def), s.nullable = nullable, s.doc = doc;
  return s;
}

// The common task keys a spec file may hold (a campaign gives them to every task kind).
const std::vector<std::string> kCommonInFile = {"system_prompt", "max_new_tokens", "stop"};
const std::vector<std::string> kFileOnly = {"name", "files", "data"};

std::vector<ParamSpec> file_specs() {
  std::vector<ParamSpec> out;
  for (const auto& s : task_common_specs())
    if (std::find(kCommonInFile.begin(), kCommonInFile.end(), s.name) != kCommonInFile.end()) out.push_back(s);
  for (auto& s : user_task_specs()) out.push_back(std::move(s));
  return out;
}

}  // namespace

std::vector<ParamSpec> user_task_specs() {
  ParamSpec scorer = key("scorer", ParamType::choice, nullptr, false, "how an answer is scored");
  scorer.choices = scorers().names(), scorer.required = true;
  ParamSpec tolerance = key("tolerance", ParamType::number, 1e-6, false, "numeric: relative tolerance");
  tolerance.check = rule_at_least(0);
  ParamSpec tmpl = key("chat_template", ParamType::choice, "model_default", false,
                       "model_default: the model's template; code_prompt: the reference's @@ Instruction format");
  tmpl.choices = {"model_default", "code_prompt"};
  return {scorer,
          key("prompt", ParamType::string, nullptr, true,
              "user-turn template: {field} of the record, {options} the lettered choices, {{ }} literal braces "
              "(default: {question_field})"),
          key("question_field", ParamType::string, "question", false, "field of the default prompt"),
          key("answer_field", ParamType::string, "answer", false,
              "field holding the reference answer (regex: a pattern; code: test statements)"),
          key("id_field", ParamType::string, nullptr, true, "field holding the example id (default: the line index)"),
          key("prefill", ParamType::string, nullptr, true, "text the assistant turn starts with"),
          key("extract", ParamType::string, nullptr, true,
              "exact, numeric: regex whose last match (group 1, else the whole match) is the answer"),
          key("case_sensitive", ParamType::boolean, true, false, "exact: compare case-sensitively"),
          tolerance,
          key("choices_field", ParamType::string, nullptr, true, "multiple_choice: field holding the options"),
          tmpl};
}

std::vector<std::string> user_task_file_keys() {
  std::vector<std::string> out = spec_names(file_specs());
  out.insert(out.end(), kFileOnly.begin(), kFileOnly.end());
  return out;
}

void check_user_task_rules(const json& params, const yaml::Origin& at, const std::string& key_path,
                           ConfigProblems& problems) {
  auto kp = [&](const std::string& k) { return key_path.empty() ? k : key_path + "." + k; };
  if (params.value("scorer", json()) == "multiple_choice" && !params.value("choices_field", json()).is_string())
    problems.add(at, kp("choices_field"), "scorer 'multiple_choice' needs choices_field",
                 "expected the JSONL field holding the options");
  if (params.value("extract", json()).is_string()) {
    try {
      tasks::Regex check(params["extract"].get<std::string>());
    } catch (const Error& e) {
      problems.add(at, kp("extract"), "not a valid regular expression: " + std::string(e.what()),
                   "expected a Python-style pattern");
    }
  }
}

json load_user_task_file(const std::string& path) {
  if (path.empty()) throw UsageError("task 'user' needs a YAML spec (t2 score user --spec FILE)");
  if (!path_exists(path)) throw UsageError("user task spec '" + path + "' does not exist; expected a YAML file");
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw UsageError("user task spec '" + path + "' cannot be read: " + e.what());
  }
  ConfigProblems problems(path);
  yaml::Node root = yaml::parse(text, path);  // bounded: aliases, depth and scalar size (yaml-tree.h)
  if (!root.is_map()) {
    problems.add(root.origin, "", "the spec is " + root.describe(), "expected a mapping of user task keys");
    problems.throw_if_any();
  }
  const auto valid = user_task_file_keys();
  for (const auto& e : root.map)
    if (std::find(valid.begin(), valid.end(), e.key) == valid.end())
      problems.add(e.key_origin, e.key, "unknown key '" + e.key + "'", suggest(e.key, valid));
  json out = json::object();
  for (const auto& spec : file_specs()) {
    const yaml::Node* v = root.find(spec.name);
    if (!v) {
      if (spec.required)
        problems.add(root.origin, spec.name, "missing required key '" + spec.name + "'", "expected " + describe_type(spec));
      out[spec.name] = spec.default_value;
      continue;
    }
    json one;
    out[spec.name] = check_value(*v, spec, spec.name, problems, one) ? one : spec.default_value;
  }
  check_user_task_rules(out, root.find("scorer") ? root.find("scorer")->origin : root.origin, "", problems);
  if (out["prompt"].is_null() && out["question_field"].is_string())
    out["prompt"] = "{" + out["question_field"].get<std::string>() + "}";

  // file-only keys
  const auto dir = std::filesystem::path(path).parent_path();
  auto rel = [&](const std::string& f) {
    return std::filesystem::path(f).is_absolute() || dir.empty() ? f : (dir / f).string();
  };
  out["name"] = "";
  if (const yaml::Node* n = root.find("name")) {
    if (n->is_scalar())
      out["name"] = n->scalar;
    else
      problems.add(n->origin, "name", "got " + n->describe(), "expected a string");
  }
  out["files"] = json::object();
  if (const yaml::Node* f = root.find("files")) {
    if (!f->is_map() || f->map.empty())
      problems.add(f->origin, "files", "got " + f->describe(), "expected a mapping of split names to JSONL paths");
    else
      for (const auto& e : f->map) {
        if (e.value.is_scalar() && !e.value.scalar.empty())
          out["files"][e.key] = rel(e.value.scalar);
        else
          problems.add(e.value.origin, "files." + e.key, "got " + e.value.describe(), "expected a JSONL path");
      }
  }
  if (const yaml::Node* d = root.find("data")) {
    if (d->is_scalar() && !d->scalar.empty())
      out["files"]["test"] = rel(d->scalar);
    else
      problems.add(d->origin, "data", "got " + d->describe(), "expected the JSONL path of the test split");
  }
  if (out["files"].empty() && problems.empty())
    problems.add(root.origin, "files", "no data", "expected files: {split: JSONL} or data: JSONL");
  problems.throw_if_any();
  return out;
}

}  // namespace t2
