#include "jobs/campaign.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/hf-cache.h"
#include "core/names.h"
#include "jobs/config-override.h"
#include "jobs/config-problems.h"
#include "jobs/config-schema.h"
#include "jobs/config-split.h"
#include "jobs/job-plan.h"
#include "jobs/registry-builtin.h"
#include "jobs/user-task-spec.h"
#include "jobs/yaml-env.h"
#include "jobs/yaml-tree.h"

namespace t2 {

using nlohmann::json;
using yaml::Node;

const ModelSpec* Campaign::find_model(const std::string& name) const {
  for (const auto& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

const TaskSpec* Campaign::find_task(const std::string& name) const {
  for (const auto& t : tasks)
    if (t.name == name) return &t;
  return nullptr;
}

const ExperimentSpec* Campaign::find_experiment(const std::string& name) const {
  for (const auto& e : experiments)
    if (e.name == name) return &e;
  return nullptr;
}

namespace {

const std::vector<std::string> kTopKeys = {"name",   "output", "seed",        "data_dir", "device",
                                           "models", "tasks",  "experiments", "slurm",    "timeouts", "sandbox"};
// coordinator/work-deadlines.h (the kinds of work), core/deadline.h (the rest); every key takes effect.
const std::vector<std::string> kTimeouts = {"collective", "control_message", "model_load",       "file_lock",
                                            "slurm_command", "decompose",   "generate",         "gradient",
                                            "evaluation_batch", "cem_chunk"};
const std::vector<std::string> kExperimentCommon = {"name", "kind", "seeds", "depends_on", "exclude"};
const std::vector<std::string> kTaskStructure = {"kind", "data", "split", "compat"};
// Top-level keys that hold a section of their own (their keys are listed by section).
const std::vector<std::string> kSections = {"models", "tasks", "experiments", "slurm", "timeouts", "sandbox"};

std::vector<ParamSpec> model_specs() {
  std::vector<ParamSpec> s(7);
  s[0].name = "path", s[0].type = ParamType::string, s[0].required = true;
  s[0].doc = "Hugging Face model folder, or a Hub id (org/name) found in the local Hugging Face cache "
             "(checked at run time, not in a dry run)";
  s[1].name = "dtype", s[1].type = ParamType::choice, s[1].choices = {"bf16", "fp16", "fp32"}, s[1].default_value = "bf16";
  s[2].name = "tp", s[2].type = ParamType::integer, s[2].default_value = 1, s[2].check = rule_power_of_two();
  s[3].name = "chat_template", s[3].type = ParamType::choice;
  s[3].choices = {"auto", "llama3", "mistral", "chatml", "none"}, s[3].default_value = "auto";
  s[4].name = "gpu_memory_gb", s[4].type = ParamType::number, s[4].default_value = 80, s[4].check = rule_greater(0);
  s[5].name = "tokenizer", s[5].type = ParamType::string, s[5].nullable = true;
  s[6].name = "revision", s[6].type = ParamType::string, s[6].nullable = true;
  s[6].doc = "branch, tag or commit of a Hub id in the cache (default main)";
  return s;
}

std::vector<ParamSpec> slurm_specs() {
  std::vector<ParamSpec> s(11);
  s[0].name = "partition", s[0].type = ParamType::string, s[0].nullable = true;
  s[1].name = "account", s[1].type = ParamType::string, s[1].nullable = true;
  s[2].name = "qos", s[2].type = ParamType::string, s[2].nullable = true;
  s[3].name = "time", s[3].type = ParamType::string, s[3].default_value = "24:00:00", s[3].check = rule_slurm_time();
  s[4].name = "nodes", s[4].type = ParamType::integer, s[4].default_value = 1, s[4].check = rule_at_least(1);
  s[5].name = "gpus_per_node", s[5].type = ParamType::integer, s[5].default_value = 8, s[5].check = rule_at_least(0);
  s[6].name = "cpus_per_task", s[6].type = ParamType::integer, s[6].default_value = 8, s[6].check = rule_at_least(1);
  s[7].name = "mem", s[7].type = ParamType::string, s[7].nullable = true;
  s[7].check = [](const json& v) -> std::string {
    const std::string m = v.get<std::string>();
    bool ok = !m.empty() && std::all_of(m.begin(), m.end() - 1, ::isdigit) &&
              (::isdigit(m.back()) || std::string("KMGT").find(m.back()) != std::string::npos);
    return ok ? "" : "expected a Slurm memory size such as 500G";
  };
  s[8].name = "signal_seconds", s[8].type = ParamType::integer, s[8].default_value = 300, s[8].check = rule_at_least(0);
  s[9].name = "requeue", s[9].type = ParamType::boolean, s[9].default_value = true;
  s[10].name = "extra", s[10].type = ParamType::string_list, s[10].default_value = json::array();
  s[10].check = [](const json& v) -> std::string {
    for (const auto& l : v)
      if (l.get<std::string>().rfind("#SBATCH ", 0) != 0)
        return "expected every extra line to start with '#SBATCH ' (got '" + l.get<std::string>() + "')";
    return "";
  };
  return s;
}

std::vector<ParamSpec> sandbox_specs() {
  std::vector<ParamSpec> specs(1);
  specs[0].name = "isolation", specs[0].type = ParamType::choice;
  specs[0].choices = {"namespaces", "rlimits"}, specs[0].default_value = "namespaces";
  specs[0].doc = "namespaces: user/PID/network/mount namespaces through bwrap (required unless opted out); "
                 "rlimits: resource limits only, no file-system or network isolation";
  return specs;
}

class Loader {
 public:
  Loader(Node& root, ConfigProblems& p, const CampaignLoadOptions& opt) : root_(root), p_(p), opt_(opt) {}

  Campaign run() {
    find_duplicate_keys(root_, "");
    expand_strings(root_, "");
    Campaign c;
    c.file = p_.file();
    check_keys(root_, "", kTopKeys);
    load_top(c);
    load_models(c);
    load_tasks(c);
    load_experiments(c);
    load_slurm(c);
    load_timeouts(c);
    load_sandbox(c);
    check_cross(c);
    return c;
  }

 private:
  Node& root_;
  ConfigProblems& p_;
  const CampaignLoadOptions& opt_;
  std::set<std::string> expanding_;
  bool data_dir_missing_ = false;

  static std::string child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void find_duplicate_keys(const Node& n, const std::string& path) {
    if (n.is_map()) {
      std::map<std::string, const yaml::MapEntry*> seen;
      for (const auto& e : n.map) {
        auto it = seen.find(e.key);
        if (it != seen.end())
          p_.add(e.key_origin, child(path, e.key), "duplicate key (first at " + p_.where(it->second->key_origin) + ")",
                 "expected each key once per mapping");
        else
          seen[e.key] = &e;
        find_duplicate_keys(e.value, child(path, e.key));
      }
    }
    for (size_t i = 0; i < n.seq.size(); ++i) find_duplicate_keys(n.seq[i], child(path, std::to_string(i)));
  }

  std::optional<std::string> lookup(const std::string& name) {
    const Node* v = root_.find(name);
    if (v && v->is_scalar() && !expanding_.count(name)) {
      expanding_.insert(name);
      EnvExpansion e = expand_env(v->scalar, [this](const std::string& n) { return lookup(n); });
      expanding_.erase(name);
      if (e.ok()) return e.value;
      return std::nullopt;
    }
    return opt_.env ? opt_.env(name) : getenv_lookup(name);
  }

  void expand_strings(Node& n, const std::string& path) {
    if (n.is_scalar() && n.scalar.find('$') != std::string::npos) {
      EnvExpansion e = expand_env(n.scalar, [this](const std::string& name) { return lookup(name); });
      if (e.ok())
        n.scalar = e.value;
      else
        p_.add(n.origin, path, e.error);
    }
    for (size_t i = 0; i < n.seq.size(); ++i) expand_strings(n.seq[i], child(path, std::to_string(i)));
    for (auto& e : n.map) expand_strings(e.value, child(path, e.key));
  }

  // Reports keys of `n` that are not in `valid`.
  void check_keys(const Node& n, const std::string& path, const std::vector<std::string>& valid) {
    if (!n.is_map()) return;
    for (const auto& e : n.map)
      if (std::find(valid.begin(), valid.end(), e.key) == valid.end())
        p_.add(e.key_origin, child(path, e.key), "unknown key '" + e.key + "'", suggest(e.key, valid));
  }

  // Resolves every spec of a section into `out`: given values checked, absent ones defaulted.
  void load_section(const Node& n, const std::string& path, const std::vector<ParamSpec>& specs, json& out,
                    std::vector<std::string>* swept = nullptr) {
    for (const auto& spec : specs) {
      const Node* v = n.is_map() ? n.find(spec.name) : nullptr;
      const std::string kp = child(path, spec.name);
      if (!v) {
        if (spec.required)
          p_.add(n.origin, kp, "missing required key '" + spec.name + "'", "expected " + describe_type(spec));
        out[spec.name] = spec.default_value;
        continue;
      }
      if (v->is_seq() && spec.type != ParamType::string_list) {
        if (!spec.sweepable || !swept) {
          p_.add(v->origin, kp, "got a list, but '" + spec.name + "' cannot be swept here",
                 "expected " + describe_type(spec));
          out[spec.name] = spec.default_value;
          continue;
        }
        if (v->seq.empty()) {
          p_.add(v->origin, kp, "empty sweep list", "expected at least one value");
          out[spec.name] = spec.default_value;
          continue;
        }
        json list = json::array();
        for (size_t i = 0; i < v->seq.size(); ++i) {
          json one;
          if (check_value(v->seq[i], spec, kp, p_, one)) list.push_back(one);
        }
        out[spec.name] = list;
        swept->push_back(spec.name);
        continue;
      }
      json one;
      out[spec.name] = check_value(*v, spec, kp, p_, one) ? one : spec.default_value;
    }
  }

  // A mapping, or null taken as an empty mapping; anything else is a problem.
  bool want_map(const Node& n, const std::string& path, const std::string& what) {
    if (n.is_map() || n.is_null()) return true;
    p_.add(n.origin, path, "got " + n.describe(), "expected " + what);
    return false;
  }

  std::optional<std::string> scalar_string(const Node* n, const std::string& path, ConfigProblems& p) {
    if (!n) return std::nullopt;
    if (!n->is_scalar()) {
      p.add(n->origin, path, "got " + n->describe(), "expected a string");
      return std::nullopt;
    }
    return n->scalar;
  }

  // seed / seeds: one integer or a list of distinct integers.
  std::vector<int64_t> load_seeds(const Node& n, const std::string& path) {
    std::vector<int64_t> out;
    auto one = [&](const Node& s) {
      auto v = yaml::scalar_int(s);
      if (!v) {
        p_.add(s.origin, path, "got " + s.describe(), "expected an integer seed or a list of them");
        return;
      }
      if (std::find(out.begin(), out.end(), *v) != out.end())
        p_.add(s.origin, path, "seed " + std::to_string(*v) + " is listed twice", "expected distinct seeds");
      else
        out.push_back(*v);
    };
    if (n.is_seq()) {
      if (n.seq.empty()) p_.add(n.origin, path, "empty seed list", "expected at least one seed");
      for (const auto& s : n.seq) one(s);
    } else {
      one(n);
    }
    return out;
  }

  void load_top(Campaign& c) {
    const Node* name = root_.find("name");
    if (!name) {
      p_.add(root_.origin, "name", "missing required key 'name'", "expected the campaign's name");
    } else if (auto s = scalar_string(name, "name", p_)) {
      if (!is_identifier(*s))
        p_.add(name->origin, "name", "'" + *s + "' is not a valid name",
               "expected letters, digits, '_' and '-' (it names the run)");
      c.name = *s;
    }
    c.output = "runs/" + c.name;
    if (const Node* o = root_.find("output")) {
      if (auto s = scalar_string(o, "output", p_)) {
        if (s->empty())
          p_.add(o->origin, "output", "empty path", "expected a run directory");
        else
          c.output = *s;
      }
    }
    if (const Node* d = root_.find("data_dir"); d && !yaml::scalar_is_null(*d)) {
      if (auto s = scalar_string(d, "data_dir", p_)) {
        c.data_dir = *s;
        data_dir_missing_ = opt_.check_data_files && !path_exists(*s);
        if (data_dir_missing_)
          p_.add(d->origin, "data_dir", "directory '" + *s + "' does not exist",
                 "expected the data root (set T2_DATA_DIR or override data_dir=...)");
      }
    }
    c.seeds = {42};
    if (const Node* s = root_.find("seed")) c.seeds = load_seeds(*s, "seed");
    if (const Node* d = root_.find("device")) {
      if (auto s = scalar_string(d, "device", p_)) {
        if (*s == "auto" || *s == "cpu" || *s == "cuda")
          c.device = *s;
        else
          p_.add(d->origin, "device", "unknown device '" + *s + "'", "expected auto, cpu or cuda");
      }
    }
    c.resolved["device"] = c.device;
    c.resolved["name"] = c.name;
    c.resolved["output"] = c.output;
    c.resolved["data_dir"] = c.data_dir ? json(*c.data_dir) : json(nullptr);
    c.resolved["seed"] = c.seeds;
  }

  void load_models(Campaign& c) {
    const Node* models = root_.find("models");
    c.resolved["models"] = json::object();
    if (!models || (models->is_map() && models->map.empty())) {
      p_.add(models ? models->origin : root_.origin, "models", models ? "no models" : "missing required key 'models'",
             "expected a mapping of model names to {path, dtype, tp, chat_template}");
      return;
    }
    if (!want_map(*models, "models", "a mapping of model names to {path, dtype, tp, chat_template}")) return;
    const auto specs = model_specs();
    for (const auto& e : models->map) {
      const std::string kp = child("models", e.key);
      if (!is_identifier(e.key))
        p_.add(e.key_origin, kp, "'" + e.key + "' is not a valid model name", "expected letters, digits, '_' and '-'");
      if (!want_map(e.value, kp, "a mapping with path, dtype, tp, chat_template")) continue;
      check_keys(e.value, kp, spec_names(specs));
      Node value = e.value;
      if (value.is_null()) value.origin = e.key_origin;
      json params;
      load_section(value, kp, specs, params);
      ModelSpec m;
      m.name = e.key;
      m.path = params["path"].is_string() ? params["path"].get<std::string>() : "";
      m.dtype = params["dtype"].get<std::string>();
      m.tp = params["tp"].get<int64_t>();
      m.chat_template = params["chat_template"].get<std::string>();
      m.gpu_memory_gb = params["gpu_memory_gb"].get<double>();
      m.revision = params["revision"].is_string() ? params["revision"].get<std::string>() : "";
      m.params = params;
      c.resolved["models"][m.name] = params;
      if (!m.path.empty()) {
        // A folder, else a Hub id in the local cache (core/hf-cache.h): resolved whenever it can be,
        // reported missing only where the model must exist (not in dry runs).
        ModelLocation loc = find_model(m.path, m.revision, opt_.env ? opt_.env : process_env_lookup());
        if (loc.found() && loc.from_cache()) {
          m.hf_id = loc.repo_id;
          m.hf_commit = loc.commit;
          m.path = loc.dir;
          // Recorded in the run (run.h5 campaign/resolved): which snapshot the id meant.
          c.resolved["models"][m.name]["hf_cache"] = {{"repo_id", loc.repo_id}, {"revision", loc.revision},
                                                      {"commit", loc.commit}, {"snapshot", loc.dir}};
        } else if (!loc.found() && opt_.check_model_paths) {
          p_.add(value.find("path") ? value.find("path")->origin : e.key_origin, child(kp, "path"), loc.problem,
                 "expected a Hugging Face model folder or a cached Hub id (override " + child(kp, "path") + "=...)");
        }
      }
      c.models.push_back(std::move(m));
    }
  }

  void load_tasks(Campaign& c) {
    const Node* tasks = root_.find("tasks");
    c.resolved["tasks"] = json::object();
    if (!tasks || (tasks->is_map() && tasks->map.empty())) {
      p_.add(tasks ? tasks->origin : root_.origin, "tasks", tasks ? "no tasks" : "missing required key 'tasks'",
             "expected a mapping of task names to {kind, data, split, ...}");
      return;
    }
    if (!want_map(*tasks, "tasks", "a mapping of task names to {kind, data, split, ...}")) return;
    for (const auto& e : tasks->map) load_task(c, e);
    // cls sources name other tasks: checked once every task is known.
    for (const auto& e : tasks->map) {
      const TaskSpec* t = c.find_task(e.key);
      if (!t || t->kind != "cls") continue;
      const Node* src = e.value.find("sources");
      for (auto it = t->params["sources"].begin(); it != t->params["sources"].end(); ++it) {
        const std::string kp = child(child(child("tasks", e.key), "sources"), it.key());
        yaml::Origin at = src ? src->origin : e.key_origin;
        if (src)
          if (const Node* v = src->find(it.key())) at = v->origin;
        if (std::find(dispatch_labels().begin(), dispatch_labels().end(), it.key()) == dispatch_labels().end())
          p_.add(at, kp, "unknown label '" + it.key() + "'", suggest(it.key(), dispatch_labels()));
        const std::string ref = it.value().get<std::string>();
        const TaskSpec* s = c.find_task(ref);
        if (!s)
          p_.add(at, kp, "unknown task '" + ref + "'", suggest(ref, task_names(c)));
        else if (s->kind == "cls")
          p_.add(at, kp, "task '" + ref + "' is itself a classification task", "expected a task with questions");
        else if (!s->split.count("test"))
          p_.add(at, kp, "task '" + ref + "' has no test split to take questions from", "expected split.test");
      }
    }
  }

  // Every task the file declares, loaded or not: a task with a bad kind is reported once, not again
  // by each experiment that names it.
  std::vector<std::string> task_names(const Campaign& c) const {
    std::vector<std::string> out;
    for (const auto& t : c.tasks) out.push_back(t.name);
    if (const Node* tasks = root_.find("tasks"); tasks && tasks->is_map())
      for (const auto& e : tasks->map)
        if (std::find(out.begin(), out.end(), e.key) == out.end()) out.push_back(e.key);
    return out;
  }
  static std::vector<std::string> model_names(const Campaign& c) {
    std::vector<std::string> out;
    for (const auto& m : c.models) out.push_back(m.name);
    return out;
  }

  void load_task(Campaign& c, const yaml::MapEntry& e) {
    const std::string kp = child("tasks", e.key);
    if (!is_identifier(e.key))
      p_.add(e.key_origin, kp, "'" + e.key + "' is not a valid task name", "expected letters, digits, '_' and '-'");
    if (!want_map(e.value, kp, "a mapping with kind, data, split, ...")) return;
    const Node& n = e.value;
    const yaml::Origin at = n.is_null() ? e.key_origin : n.origin;
    TaskSpec t;
    t.name = e.key;
    // The kind defaults to the task's name when that is a registered kind (tasks: {gsm8k: {}}).
    const Node* kind = n.find("kind");
    if (kind) {
      if (kind->is_scalar() && task_kinds().contains(kind->scalar))
        t.kind = kind->scalar;
      else
        p_.add(kind->origin, child(kp, "kind"), "unknown task kind " + kind->describe(),
               kind->is_scalar() ? suggest(kind->scalar, task_kinds().names())
                                 : "expected one of " + join(task_kinds().names()));
    } else if (task_kinds().contains(e.key)) {
      t.kind = e.key;
    } else {
      p_.add(e.key_origin, child(kp, "kind"), "missing required key 'kind' (the name is not a task kind)",
             "expected one of " + join(task_kinds().names()));
    }
    if (t.kind.empty()) return;
    const TaskKind& k = task_kinds().at(t.kind);

    std::vector<std::string> valid = kTaskStructure;
    auto common = task_common_specs();
    for (const auto& s : common) valid.push_back(s.name);
    for (const auto& s : k.extra) valid.push_back(s.name);
    check_keys(n, kp, valid);

    json params;
    load_section(n, kp, common, params);
    load_section(n, kp, k.extra, params);
    t.family = params["family"].is_string() ? params["family"].get<std::string>() : k.family;
    params["family"] = t.family;
    t.max_new_tokens = params["max_new_tokens"].is_number() ? params["max_new_tokens"].get<int64_t>() : k.max_new_tokens;
    params["max_new_tokens"] = t.max_new_tokens;
    if (params["limit"].is_number()) t.limit = params["limit"].get<int64_t>();
    if (params["shots_seed"].is_null() && k.shots_seed) params["shots_seed"] = *k.shots_seed;
    if (t.kind == "user") {
      check_user_task_rules(params, n.find("scorer") ? n.find("scorer")->origin : at, kp, p_);
      if (params["prompt"].is_null()) params["prompt"] = "{" + params["question_field"].get<std::string>() + "}";
    }

    load_task_data(c, n, at, kp, k, t);
    load_task_split(n, at, kp, k, t);

    // compat switches: names reproducing reference-code quirks (DESIGN decision 8); none by default.
    json compat = json::array();
    if (const Node* cn = n.find("compat"); cn && !yaml::scalar_is_null(*cn)) {
      std::vector<std::string> names = k.compat;
      names.push_back("original");
      std::vector<const Node*> items;
      if (cn->is_seq())
        for (const auto& i : cn->seq) items.push_back(&i);
      else
        items.push_back(cn);
      for (const Node* i : items) {
        if (!i->is_scalar() || std::find(names.begin(), names.end(), i->scalar) == names.end()) {
          p_.add(i->origin, child(kp, "compat"),
                 "unknown compat switch " + i->describe() + " for task kind " + t.kind,
                 i->is_scalar() ? suggest(i->scalar, names) : "expected one of " + join(names));
          continue;
        }
        compat.push_back(i->scalar);
      }
    }
    params["compat"] = compat;
    params["kind"] = t.kind;
    params["data"] = t.data;
    params["split"] = t.split;
    t.params = params;
    c.resolved["tasks"][t.name] = params;
    c.tasks.push_back(std::move(t));
  }

  void load_task_data(const Campaign& c, const Node& n, const yaml::Origin& at, const std::string& kp,
                      const TaskKind& k, TaskSpec& t) {
    const Node* data = n.find("data");
    const std::string dkp = child(kp, "data");
    if (!data) {
      if (k.default_data.empty()) return;
      if (!c.data_dir) {
        p_.add(at, dkp, "no data files given and the campaign sets no data_dir",
               "expected data: {" + join(k.data_keys) + "} or a top-level data_dir (e.g. ${T2_DATA_DIR})");
        return;
      }
      for (auto it = k.default_data.begin(); it != k.default_data.end(); ++it) {
        std::string path = *c.data_dir + "/" + it.value().get<std::string>();
        t.data[it.key()] = path;
        if (opt_.check_data_files && !data_dir_missing_ && !path_exists(path))  // else reported once at data_dir
          p_.add(at, child(dkp, it.key()), "data file '" + path + "' does not exist",
                 "expected the " + t.kind + " file below data_dir (or set " + child(dkp, it.key()) + "=...)");
      }
      return;
    }
    if (!data->is_map()) {
      p_.add(data->origin, dkp, "got " + data->describe(), "expected a mapping of data keys to file paths");
      return;
    }
    if (data->map.empty()) p_.add(data->origin, dkp, "no data files", "expected at least one file");
    for (const auto& de : data->map) {
      const std::string ekp = child(dkp, de.key);
      if (!k.any_data_keys && std::find(k.data_keys.begin(), k.data_keys.end(), de.key) == k.data_keys.end()) {
        p_.add(de.key_origin, ekp, "unknown data key '" + de.key + "' for task kind " + t.kind,
               suggest(de.key, k.data_keys));
        continue;
      }
      if (!de.value.is_scalar() || de.value.scalar.empty()) {
        p_.add(de.value.origin, ekp, "got " + de.value.describe(), "expected a file path");
        continue;
      }
      t.data[de.key] = de.value.scalar;
      if (opt_.check_data_files && !path_exists(de.value.scalar))
        p_.add(de.value.origin, ekp, "data file '" + de.value.scalar + "' does not exist", "expected an existing file");
    }
  }

  void load_task_split(const Node& n, const yaml::Origin& at, const std::string& kp, const TaskKind& k, TaskSpec& t) {
    static const std::vector<std::string> roles = {"train", "valid", "test"};
    const std::string skp = child(kp, "split");
    std::map<std::string, std::pair<std::string, yaml::Origin>> rules;
    std::set<std::string> defaulted;  // roles still on the kind's default rule
    for (auto it = k.default_split.begin(); it != k.default_split.end(); ++it) {
      rules[it.key()] = {it.value().get<std::string>(), at};
      defaulted.insert(it.key());
    }
    if (const Node* s = n.find("split")) {
      if (want_map(*s, skp, "a mapping of train/valid/test to split rules such as 'train|even'")) {
        for (const auto& se : s->map) {
          const std::string rkp = child(skp, se.key);
          if (std::find(roles.begin(), roles.end(), se.key) == roles.end()) {
            p_.add(se.key_origin, rkp, "unknown split '" + se.key + "'", suggest(se.key, roles));
            continue;
          }
          defaulted.erase(se.key);
          if (yaml::scalar_is_null(se.value)) {
            rules.erase(se.key);
            continue;
          }
          if (!se.value.is_scalar()) {
            p_.add(se.value.origin, rkp, "got " + se.value.describe(), "expected a split rule such as 'train|even'");
            continue;
          }
          rules[se.key] = {se.value.scalar, se.value.origin};
        }
      }
    }
    for (const auto& [role, rule] : rules) {
      SplitRule r;
      std::string err;
      const std::string rkp = child(skp, role);
      if (!parse_split_rule(rule.first, r, err)) {
        p_.add(rule.second, rkp, err);
        t.split[role] = rule.first;  // present, though invalid: no follow-on "has no split" problems
        continue;
      }
      const bool known_source = t.kind == "cls" ? r.source == "pool" : t.data.count(r.source) > 0;
      if (!known_source && defaulted.count(role)) continue;  // a default role whose file was not given
      if (!known_source) {
        std::vector<std::string> keys;
        if (t.kind == "cls") keys = {"pool"};
        for (const auto& d : t.data) keys.push_back(d.first);
        p_.add(rule.second, rkp, "split rule '" + rule.first + "' reads data key '" + r.source + "', which the task does not have",
               keys.empty() ? "expected data files for the task" : suggest(r.source, keys));
        t.split[role] = rule.first;
        continue;
      }
      t.split[role] = r.text();
    }
  }

  std::string exp_label(const Node& e, size_t i, const std::map<std::string, int>& name_count) {
    std::string nm;
    if (const Node* n = e.find("name"); n && n->is_scalar()) nm = n->scalar;
    else if (const Node* k = e.find("kind"); k && k->is_scalar()) nm = k->scalar;
    if (!nm.empty() && is_identifier(nm) && name_count.at(nm) == 1) return "experiments." + nm;
    return "experiments." + std::to_string(i);
  }

  std::vector<std::string> load_names(const Node* n, const std::string& kp, const std::vector<std::string>& valid,
                                      const std::string& what) {
    std::vector<std::string> out;
    auto one = [&](const Node& s) {
      if (!s.is_scalar()) {
        p_.add(s.origin, kp, "got " + s.describe(), "expected a " + what + " name");
        return;
      }
      if (std::find(valid.begin(), valid.end(), s.scalar) == valid.end()) {
        p_.add(s.origin, kp, "unknown " + what + " '" + s.scalar + "'", suggest(s.scalar, valid));
        return;
      }
      if (std::find(out.begin(), out.end(), s.scalar) != out.end())
        p_.add(s.origin, kp, what + " '" + s.scalar + "' is listed twice", "expected distinct names");
      else
        out.push_back(s.scalar);
    };
    if (n->is_seq()) {
      if (n->seq.empty()) p_.add(n->origin, kp, "empty list", "expected at least one " + what);
      for (const auto& s : n->seq) one(s);
    } else {
      one(*n);
    }
    return out;
  }

  void load_experiments(Campaign& c) {
    const Node* exps = root_.find("experiments");
    c.resolved["experiments"] = json::array();
    if (!exps || !exps->is_seq() || exps->seq.empty()) {
      p_.add(exps ? exps->origin : root_.origin, "experiments",
             !exps ? "missing required key 'experiments'" : exps->is_seq() ? "no experiments" : "got " + exps->describe(),
             "expected a list of experiments, each with a kind (" + join(experiment_kinds().names()) + ")");
      return;
    }
    std::map<std::string, int> name_count;
    for (const auto& e : exps->seq) {
      std::string nm;
      if (const Node* n = e.find("name"); n && n->is_scalar()) nm = n->scalar;
      else if (const Node* k = e.find("kind"); k && k->is_scalar()) nm = k->scalar;
      ++name_count[nm];
    }
    std::map<std::string, yaml::Origin> first_at;
    std::vector<const Node*> nodes;  // parallel to c.experiments
    for (size_t i = 0; i < exps->seq.size(); ++i) {
      const Node& e = exps->seq[i];
      const std::string kp = exp_label(e, i, name_count);
      if (!e.is_map()) {
        p_.add(e.origin, kp, "got " + e.describe(), "expected a mapping with kind, name, models, tasks, ...");
        continue;
      }
      ExperimentSpec x;
      x.key_path = kp;
      x.where[""] = p_.where(e.origin);
      for (const auto& me : e.map) x.where[me.key] = p_.where(me.value.origin);
      const Node* kind = e.find("kind");
      if (!kind) {
        p_.add(e.origin, child(kp, "kind"), "missing required key 'kind'",
               "expected one of " + join(experiment_kinds().names()));
        continue;
      }
      if (!kind->is_scalar() || !experiment_kinds().contains(kind->scalar)) {
        p_.add(kind->origin, child(kp, "kind"), "unknown experiment kind " + kind->describe(),
               kind->is_scalar() ? suggest(kind->scalar, experiment_kinds().names())
                                 : "expected one of " + join(experiment_kinds().names()));
        continue;
      }
      x.kind = kind->scalar;
      const ExperimentKind& k = experiment_kinds().at(x.kind);
      x.name = x.kind;
      if (const Node* n = e.find("name")) {
        if (!n->is_scalar() || !is_identifier(n->scalar))
          p_.add(n->origin, child(kp, "name"), "'" + (n->is_scalar() ? n->scalar : n->describe()) + "' is not a valid name",
                 "expected letters, digits, '_' and '-'");
        else
          x.name = n->scalar;
      }
      yaml::Origin name_at = e.find("name") ? e.find("name")->origin : kind->origin;
      if (first_at.count(x.name))
        p_.add(name_at, child(kp, "name"),
               "duplicate experiment name '" + x.name + "' (first at " + p_.where(first_at[x.name]) + ")",
               "expected distinct names (an experiment without a name is named after its kind)");
      else
        first_at[x.name] = name_at;

      std::vector<std::string> valid = kExperimentCommon;
      for (const auto& a : k.axes) valid.push_back(a);
      for (const auto& s : k.params) valid.push_back(s.name);
      check_keys(e, kp, valid);

      const bool uses_tasks = std::find(k.axes.begin(), k.axes.end(), "tasks") != k.axes.end();
      const bool uses_methods = std::find(k.axes.begin(), k.axes.end(), "methods") != k.axes.end();
      if (const Node* m = e.find("models"))
        x.models = load_names(m, child(kp, "models"), model_names(c), "model");
      else
        x.models = model_names(c);
      if (uses_tasks) {
        if (const Node* t = e.find("tasks"))
          x.tasks = load_names(t, child(kp, "tasks"), task_names(c), "task");
        else
          p_.add(e.origin, child(kp, "tasks"), "missing required key 'tasks'", "expected a task name or a list of them");
      }
      if (uses_methods) {
        if (const Node* m = e.find("methods"))
          x.methods = load_names(m, child(kp, "methods"), eval_methods().names(), "method");
        else
          x.methods = {"base"};
      }
      x.seeds = c.seeds;
      if (const Node* s = e.find("seeds")) {
        if (x.kind == "decompose")
          p_.add(s->origin, child(kp, "seeds"), "decompose has no seeds", "expected no seeds key");
        else
          x.seeds = load_seeds(*s, child(kp, "seeds"));
      }
      if (x.kind == "decompose") x.seeds.clear();
      if (const Node* d = e.find("depends_on")) {
        ParamSpec s;
        s.name = "depends_on", s.type = ParamType::string_list;
        json v;
        if (check_value(*d, s, child(kp, "depends_on"), p_, v)) x.depends_on = v.get<std::vector<std::string>>();
      }
      x.params = json::object();
      load_section(e, kp, k.params, x.params, &x.swept);
      x.exclude = json::array();
      if (const Node* ex = e.find("exclude")) load_exclude(*ex, child(kp, "exclude"), x, k);
      c.experiments.push_back(std::move(x));
      nodes.push_back(&e);
    }
    check_experiment_refs(c, nodes);
  }

  void load_exclude(const Node& n, const std::string& kp, ExperimentSpec& x, const ExperimentKind& k) {
    if (!n.is_seq()) {
      p_.add(n.origin, kp, "got " + n.describe(), "expected a list of {model, task, method, seed} cells");
      return;
    }
    std::vector<std::string> keys = {"model", "seed"};
    for (const auto& a : k.axes)
      if (a != "models") keys.push_back(a.substr(0, a.size() - 1));
    for (size_t i = 0; i < n.seq.size(); ++i) {
      const Node& cell = n.seq[i];
      const std::string ckp = child(kp, std::to_string(i));
      if (!cell.is_map() || cell.map.empty()) {
        p_.add(cell.origin, ckp, "got " + cell.describe(), "expected a mapping such as {model: m, method: t2_cls}");
        continue;
      }
      json j = json::object();
      for (const auto& ce : cell.map) {
        const std::string ekp = child(ckp, ce.key);
        if (std::find(keys.begin(), keys.end(), ce.key) == keys.end()) {
          p_.add(ce.key_origin, ekp, "unknown key '" + ce.key + "'", suggest(ce.key, keys));
          continue;
        }
        if (ce.key == "seed") {
          auto v = yaml::scalar_int(ce.value);
          if (!v || std::find(x.seeds.begin(), x.seeds.end(), *v) == x.seeds.end()) {
            p_.add(ce.value.origin, ekp, "seed " + ce.value.describe() + " is not a seed of this experiment",
                   "expected one of " + nlohmann::json(x.seeds).dump());
            continue;
          }
          j["seed"] = *v;
          continue;
        }
        const std::vector<std::string>& axis = ce.key == "model" ? x.models : ce.key == "task" ? x.tasks : x.methods;
        if (!ce.value.is_scalar() || std::find(axis.begin(), axis.end(), ce.value.scalar) == axis.end()) {
          p_.add(ce.value.origin, ekp, ce.key + " " + ce.value.describe() + " is not in this experiment's " + ce.key + "s",
                 ce.value.is_scalar() ? suggest(ce.value.scalar, axis) : "expected one of " + join(axis));
          continue;
        }
        j[ce.key] = ce.value.scalar;
      }
      x.exclude.push_back(j);
    }
  }

  // References between experiments: depends_on, experts/classifier/fewshot, and the cls task.
  void check_experiment_refs(Campaign& c, const std::vector<const Node*>& nodes) {
    std::vector<std::string> names;
    for (const auto& x : c.experiments) names.push_back(x.name);
    for (size_t xi = 0; xi < c.experiments.size(); ++xi) {
      ExperimentSpec& x = c.experiments[xi];
      const Node* e = nodes[xi];
      auto origin_of = [&](const std::string& key) {
        const Node* v = e ? e->find(key) : nullptr;
        return v ? v->origin : (e ? e->origin : root_.origin);
      };
      for (const auto& d : x.depends_on) {
        if (d == x.name)
          p_.add(origin_of("depends_on"), child(x.key_path, "depends_on"), "experiment depends on itself",
                 "expected other experiments' names");
        else if (!c.find_experiment(d))
          p_.add(origin_of("depends_on"), child(x.key_path, "depends_on"), "no experiment named '" + d + "'",
                 suggest(d, names));
      }
      auto resolve = [&](const std::string& key, const std::string& kind, bool needed) {
        json& v = x.params[key];
        std::vector<std::string> of_kind;
        for (const auto& y : c.experiments)
          if (y.kind == kind) of_kind.push_back(y.name);
        if (v.is_string()) {
          const ExperimentSpec* y = c.find_experiment(v.get<std::string>());
          if (!y || y->kind != kind)
            p_.add(origin_of(key), child(x.key_path, key),
                   (y ? "experiment '" + v.get<std::string>() + "' is a " + y->kind + ", not a " + kind
                      : "no " + kind + " experiment named '" + v.get<std::string>() + "'"),
                   of_kind.empty() ? "expected a " + kind + " experiment (there is none)"
                                   : suggest(v.get<std::string>(), of_kind));
          return;
        }
        if (!needed) return;
        if (of_kind.size() == 1) {
          v = of_kind[0];
        } else {
          p_.add(origin_of(key), child(x.key_path, key),
                 of_kind.empty() ? "needs a " + kind + " experiment and the campaign has none"
                                 : "more than one " + kind + " experiment; which one is meant?",
                 of_kind.empty() ? "expected an experiment of kind " + kind
                                 : "expected " + key + ": one of " + join(of_kind));
        }
      };
      if (x.kind == "fewshot_search") resolve("experts", "train_expert", true);
      if (x.kind == "evaluate") {
        std::set<std::string> needs;
        for (const auto& m : x.methods)
          for (const auto& n : eval_methods().at(m).needs) needs.insert(n);
        resolve("experts", "train_expert", needs.count("experts") > 0);
        resolve("classifier", "classifier_expert", needs.count("classifier") > 0);
        resolve("fewshot", "fewshot_search", needs.count("fewshot") > 0);
        // lora: / ia3: / dora: name a train_peft experiment of that method
        for (const char* m : {"lora", "ia3", "dora"}) {
          resolve_peft(c, x, m, needs.count(m) > 0, origin_of);
        }
      }
      if (x.kind == "classifier_expert") {
        const std::string tn = x.params["task"].get<std::string>();
        const TaskSpec* t = c.find_task(tn);
        std::vector<std::string> cls_tasks;
        for (const auto& tt : c.tasks)
          if (tt.kind == "cls") cls_tasks.push_back(tt.name);
        if (!t || t->kind != "cls")
          p_.add(origin_of("task"), child(x.key_path, "task"),
                 t ? "task '" + tn + "' is of kind " + t->kind + ", not cls" : "no task named '" + tn + "'",
                 cls_tasks.empty() ? "expected a task of kind cls (add tasks: {cls: {kind: cls}})"
                                   : suggest(tn, cls_tasks));
      }
      check_cross_params(c, x, origin_of);
      check_task_splits(c, x, origin_of);
      json j = x.params;
      j["name"] = x.name, j["kind"] = x.kind, j["models"] = x.models, j["seeds"] = x.seeds;
      if (!x.tasks.empty()) j["tasks"] = x.tasks;
      if (!x.methods.empty()) j["methods"] = x.methods;
      j["depends_on"] = x.depends_on;
      j["exclude"] = x.exclude;
      c.resolved["experiments"].push_back(j);
    }
  }

  // Relations between hyperparameters, checked for every combination of swept values.
  template <typename OriginOf>
  void check_cross_params(const Campaign& campaign, const ExperimentSpec& x, OriginOf origin_of) {
    const Campaign* c_ = &campaign;
    auto values = [&](const std::string& k) {
      const json& v = x.params.contains(k) ? x.params.at(k) : json();
      return std::find(x.swept.begin(), x.swept.end(), k) != x.swept.end() ? v : json::array({v});
    };
    auto pairwise = [&](const std::string& a, const std::string& b, auto bad, const std::string& what,
                        const std::string& expected) {
      if (!x.params.contains(a) || !x.params.contains(b)) return;
      for (const auto& va : values(a))
        for (const auto& vb : values(b))
          if (!va.is_null() && !vb.is_null() && bad(va, vb)) {
            p_.add(origin_of(a), child(x.key_path, a), what + " (" + a + " " + va.dump() + ", " + b + " " + vb.dump() + ")",
                   expected);
            return;
          }
    };
    if (x.kind == "evaluate" && x.params.contains("expert_task") && x.params["expert_task"].is_string()) {
      const std::string et = x.params["expert_task"].get<std::string>();
      if (!c_->find_task(et)) {
        std::vector<std::string> names;
        for (const auto& t : c_->tasks) names.push_back(t.name);
        p_.add(origin_of("expert_task"), child(x.key_path, "expert_task"), "no task named '" + et + "'", suggest(et, names));
      }
      for (const auto& m : x.methods)
        if (m != "svf" && m != "lora" && m != "ia3" && m != "dora")
          p_.add(origin_of("expert_task"), child(x.key_path, "expert_task"), "method " + m + " has no per-task expert",
                 "expected methods among svf, lora, ia3, dora with expert_task");
    }
    if (x.kind == "fewshot_search" || x.kind == "evaluate") {
      // transfer: a model of the campaign, for the methods whose experts it replaces
      const json& from = x.params.contains("transfer_from") ? x.params["transfer_from"] : json();
      if (from.is_string() && !c_->find_model(from.get<std::string>())) {
        std::vector<std::string> names;
        for (const auto& m : c_->models) names.push_back(m.name);
        p_.add(origin_of("transfer_from"), child(x.key_path, "transfer_from"),
               "no model named '" + from.get<std::string>() + "'", suggest(from.get<std::string>(), names));
      }
      if (from.is_string() && x.kind == "evaluate")
        for (const auto& m : x.methods)
          if (m != "base" && m != "svf" && m != "t2_prompt")
            p_.add(origin_of("transfer_from"), child(x.key_path, "transfer_from"),
                   "method " + m + " does not take transferred experts",
                   "expected methods among base, svf, t2_prompt (cross-model few-shot: a fewshot_search with "
                   "transfer_from, evaluated by t2_fewshot)");
      if (!from.is_string())
        for (const auto& v : values("sigma_order"))
          if (v != "ordered")
            p_.add(origin_of("sigma_order"), child(x.key_path, "sigma_order"), "sigma_order " + v.dump() +
                   " without transfer_from", "expected transfer_from: <model> (sigma_order orders transferred experts)");
    }
    if (x.kind == "fewshot_search") {
      pairwise("elites", "population", [](const json& e, const json& p) { return e.get<int64_t>() > p.get<int64_t>(); },
               "more elites than the population", "expected elites <= population");
      pairwise("alpha_min", "alpha_max", [](const json& a, const json& b) { return a.get<double>() >= b.get<double>(); },
               "empty alpha range", "expected alpha_min < alpha_max");
    }
    if (x.kind == "train_expert" || x.kind == "train_peft") {
      // next-token prediction has no rollouts: their settings would do nothing, so they are refused
      bool next_token = false;
      for (const auto& v : values("objective")) next_token |= v == "next_token";
      const std::vector<std::pair<const char*, json>> rl = {
          {"kl_coef", 0.0},        {"rollout", "greedy"},  {"samples_per_prompt", 1}, {"baseline", "none"},
          {"reward_correct", 1.0}, {"reward_wrong", -1.0}, {"reward_unparsed", -1.0}};
      if (next_token)
        for (const auto& [k, def] : rl)
          for (const auto& v : values(k))
            if (!v.is_null() && v != def)
              p_.add(origin_of(k), child(x.key_path, k), std::string(k) + " " + v.dump() +
                     " is a policy-gradient setting, which objective next_token does not use",
                     "expected " + std::string(k) + " " + def.dump() + " (or objective: policy_gradient)");
    }
    if (x.kind == "train_expert" || x.kind == "classifier_expert" || x.kind == "train_peft") {
      pairwise("baseline", "samples_per_prompt",
               [](const json& b, const json& s) { return b == "group_mean" && s.get<int64_t>() < 2; },
               "a group-mean baseline of one sample is always zero", "expected samples_per_prompt >= 2");
      pairwise("samples_per_prompt", "rollout",
               [](const json& s, const json& r) { return r == "greedy" && s.get<int64_t>() > 1; },
               "greedy rollouts of one prompt are identical", "expected rollout: sample or samples_per_prompt: 1");
    }
  }

  // evaluate's lora/ia3/dora key: the train_peft experiment of that method (the only one when unset).
  template <typename OriginOf>
  void resolve_peft(const Campaign& c, ExperimentSpec& x, const std::string& method, bool needed, OriginOf origin_of) {
    json& v = x.params[method];
    std::vector<std::string> of_method;
    for (const auto& y : c.experiments)
      if (y.kind == "train_peft" && y.params.value("method", std::string("lora")) == method) of_method.push_back(y.name);
    if (v.is_string()) {
      const ExperimentSpec* y = c.find_experiment(v.get<std::string>());
      const std::string ym = y && y->kind == "train_peft" ? y->params.value("method", std::string("lora")) : "";
      if (!y || y->kind != "train_peft" || ym != method)
        p_.add(origin_of(method), child(x.key_path, method),
               !y ? "no train_peft experiment named '" + v.get<std::string>() + "'"
                  : y->kind != "train_peft" ? "experiment '" + v.get<std::string>() + "' is a " + y->kind + ", not a train_peft"
                                            : "experiment '" + v.get<std::string>() + "' trains method " + ym + ", not " + method,
               of_method.empty() ? "expected a train_peft experiment with method: " + method + " (there is none)"
                                 : suggest(v.get<std::string>(), of_method));
      return;
    }
    if (!needed) return;
    if (of_method.size() == 1) {
      v = of_method[0];
    } else {
      p_.add(origin_of(method), child(x.key_path, method),
             of_method.empty() ? "method " + method + " needs a train_peft experiment with method: " + method +
                                     " and the campaign has none"
                               : "more than one train_peft experiment of method " + method + "; which one is meant?",
             of_method.empty() ? "expected an experiment of kind train_peft with method: " + method
                               : "expected " + method + ": one of " + join(of_method));
    }
  }

  template <typename OriginOf>
  void check_task_splits(const Campaign& c, const ExperimentSpec& x, OriginOf origin_of) {
    auto need = [&](const std::string& tn, const std::vector<std::string>& roles, const std::string& why) {
      const TaskSpec* t = c.find_task(tn);
      if (!t) return;
      for (const auto& r : roles)
        if (!t->split.count(r))
          p_.add(origin_of("tasks"), child(x.key_path, "tasks"),
                 "task '" + tn + "' has no " + r + " split, which " + why + " needs",
                 "expected tasks." + tn + ".split." + r + " (e.g. '" + (r == "test" ? "test" : "train|even") + "')");
    };
    for (const auto& tn : x.tasks) {
      const TaskSpec* t = c.find_task(tn);
      if (t && t->kind == "cls" && x.kind != "evaluate")
        p_.add(origin_of("tasks"), child(x.key_path, "tasks"), "task '" + tn + "' is the classification task",
               "expected it only in a classifier_expert's task key");
      if (x.kind == "train_expert" || x.kind == "train_peft") need(tn, {"train", "valid"}, x.kind);
      if (x.kind == "fewshot_search" || x.kind == "evaluate") need(tn, {"test"}, x.kind);
    }
    if (x.kind == "classifier_expert" && x.params["task"].is_string())
      need(x.params["task"].get<std::string>(), {"train", "valid"}, "classifier_expert");
  }

  void load_slurm(Campaign& c) {
    const auto specs = slurm_specs();
    json params;
    Node empty;
    const Node* s = root_.find("slurm");
    if (s && !want_map(*s, "slurm", "a mapping with partition, account, time, nodes, gpus_per_node, ...")) s = nullptr;
    if (s) check_keys(*s, "slurm", spec_names(specs));
    load_section(s ? *s : empty, "slurm", specs, params);
    auto opt = [&](const char* k) {
      return params[k].is_string() ? std::optional<std::string>(params[k].get<std::string>()) : std::nullopt;
    };
    c.slurm.partition = opt("partition"), c.slurm.account = opt("account"), c.slurm.qos = opt("qos");
    c.slurm.mem = opt("mem");
    c.slurm.time = params["time"].get<std::string>();
    c.slurm.nodes = params["nodes"].get<int64_t>();
    c.slurm.gpus_per_node = params["gpus_per_node"].get<int64_t>();
    c.slurm.cpus_per_task = params["cpus_per_task"].get<int64_t>();
    c.slurm.signal_seconds = params["signal_seconds"].get<int64_t>();
    c.slurm.requeue = params["requeue"].get<bool>();
    c.slurm.extra = params["extra"].get<std::vector<std::string>>();
    c.resolved["slurm"] = params;
    // A model's TP group must fit the allocation.
    const int64_t gpus = c.slurm.gpus_per_node * c.slurm.nodes;
    if (s && gpus > 0) {
      const Node* models = root_.find("models");
      for (const auto& m : c.models)
        if (m.tp > gpus) {
          const Node* mn = models ? models->find(m.name) : nullptr;
          const Node* tp = mn ? mn->find("tp") : nullptr;
          p_.add(tp ? tp->origin : root_.origin, "models." + m.name + ".tp",
                 "tp " + std::to_string(m.tp) + " needs more GPUs than the " + std::to_string(gpus) +
                     " of the Slurm allocation (slurm.nodes x slurm.gpus_per_node)",
                 "expected tp <= " + std::to_string(gpus));
        }
    }
  }

  void load_timeouts(Campaign& c) {
    c.resolved["timeouts"] = json::object();
    const Node* t = root_.find("timeouts");
    if (!t || !want_map(*t, "timeouts", "a mapping of timeout names to seconds")) return;
    check_keys(*t, "timeouts", kTimeouts);
    ParamSpec s;
    s.type = ParamType::number, s.check = rule_greater(0);
    for (const auto& e : t->map) {
      if (std::find(kTimeouts.begin(), kTimeouts.end(), e.key) == kTimeouts.end()) continue;
      s.name = e.key;
      json v;
      if (check_value(e.value, s, child("timeouts", e.key), p_, v)) {
        c.timeouts[e.key] = v.get<double>();
        c.resolved["timeouts"][e.key] = v;
      }
    }
  }

  void load_sandbox(Campaign& c) {
    const auto specs = sandbox_specs();
    json params;
    Node empty;
    const Node* s = root_.find("sandbox");
    if (s && !want_map(*s, "sandbox", "a mapping with isolation: namespaces | rlimits")) s = nullptr;
    if (s) check_keys(*s, "sandbox", spec_names(specs));
    load_section(s ? *s : empty, "sandbox", specs, params);
    if (params["isolation"].is_string()) c.sandbox_isolation = params["isolation"].get<std::string>();
    c.resolved["sandbox"] = params;
  }

  void check_cross(Campaign& c) {
    // Nothing further when the parts are already wrong: job expansion assumes valid references.
    if (!p_.empty()) return;
    try {
      expand_plan(c);
    } catch (const UsageError& e) {
      // expand_plan reports positioned lines already; fold them into the problem list.
      std::string all = e.what();
      size_t start = 0;
      while (start <= all.size()) {
        size_t nl = all.find('\n', start);
        std::string line = all.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (!line.empty()) plan_lines_.push_back(line);
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }

 public:
  std::vector<std::string> plan_lines_;
};

}  // namespace

std::vector<std::string> campaign_schema_keys() {
  std::vector<std::string> out;
  for (const auto& k : kTopKeys)
    if (std::find(kSections.begin(), kSections.end(), k) == kSections.end()) out.push_back(k);
  for (const auto& s : model_specs()) out.push_back("models." + s.name);
  for (const auto& k : kTaskStructure) out.push_back("tasks." + k);
  for (const auto& s : task_common_specs()) out.push_back("tasks." + s.name);
  for (const auto& kind : task_kinds().names())
    for (const auto& s : task_kinds().at(kind).extra) out.push_back("tasks." + kind + "." + s.name);
  for (const auto& k : kExperimentCommon) out.push_back("experiments." + k);
  for (const auto& kind : experiment_kinds().names()) {
    const auto& k = experiment_kinds().at(kind);
    for (const auto& a : k.axes) out.push_back("experiments." + kind + "." + a);
    for (const auto& s : k.params) out.push_back("experiments." + kind + "." + s.name);
  }
  for (const auto& s : slurm_specs()) out.push_back("slurm." + s.name);
  for (const auto& k : kTimeouts) out.push_back("timeouts." + k);
  for (const auto& s : sandbox_specs()) out.push_back("sandbox." + s.name);
  return out;
}

Campaign parse_campaign(const std::string& yaml_text, const std::string& file, const std::vector<std::string>& overrides,
                        const CampaignLoadOptions& options) {
  ConfigProblems problems(file);
  Node root = yaml::parse(yaml_text, file);
  for (size_t i = 0; i < overrides.size(); ++i)
    apply_override(root, parse_override(overrides[i], static_cast<int>(i + 1)), problems);
  if (!root.is_map()) {
    problems.add(root.origin, "", "the campaign is " + root.describe(),
                 "expected a mapping with name, models, tasks and experiments");
    problems.throw_if_any();
  }
  Loader loader(root, problems, options);
  Campaign c = loader.run();
  std::vector<std::string> lines = problems.lines();
  lines.insert(lines.end(), loader.plan_lines_.begin(), loader.plan_lines_.end());
  if (!lines.empty()) throw UsageError(join(lines, "\n"));
  return c;
}

Campaign load_campaign(const std::string& path, const std::vector<std::string>& overrides, const CampaignLoadOptions& options) {
  if (!path_exists(path)) throw UsageError(path + ": campaign file does not exist; expected a YAML file");
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw UsageError(path + ": cannot read the campaign file: " + e.what());
  }
  return parse_campaign(text, path, overrides, options);
}

}  // namespace t2
