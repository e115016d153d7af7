#include "jobs/job-plan.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/error.h"
#include "core/names.h"
#include "jobs/layer-list.h"
#include "jobs/registry-builtin.h"
#include "jobs/sweep.h"

namespace t2 {

using nlohmann::json;

const Job* Plan::find(const std::string& id) const {
  for (const auto& j : jobs)
    if (j.id == id) return &j;
  return nullptr;
}

size_t Plan::edge_count() const {
  size_t n = 0;
  for (const auto& j : jobs) n += j.deps.size();
  return n;
}

std::map<std::string, size_t> Plan::count_by_kind() const {
  std::map<std::string, size_t> out;
  for (const auto& j : jobs) ++out[j.kind];
  return out;
}

std::vector<std::string> Plan::topological_order() const {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (index.count(jobs[i].id)) throw Error("plan: job id '" + jobs[i].id + "' appears twice");
    index[jobs[i].id] = i;
  }
  std::vector<std::vector<size_t>> users(jobs.size());
  std::vector<size_t> missing(jobs.size(), 0);
  for (size_t i = 0; i < jobs.size(); ++i)
    for (const auto& d : jobs[i].deps) {
      auto it = index.find(d);
      if (it == index.end()) throw Error("plan: job '" + jobs[i].id + "' depends on '" + d + "', which is not a job");
      users[it->second].push_back(i);
      ++missing[i];
    }
  // Kahn's algorithm, always taking the lowest remaining index: the order is stable.
  std::set<size_t> ready;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!missing[i]) ready.insert(i);
  std::vector<std::string> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(jobs[i].id);
    for (size_t u : users[i])
      if (--missing[u] == 0) ready.insert(u);
  }
  if (order.size() == jobs.size()) return order;
  // Name one cycle: walk dependencies among the unfinished jobs until one repeats.
  size_t start = 0;
  while (!missing[start]) ++start;
  std::vector<size_t> path;
  std::map<size_t, size_t> seen;
  size_t cur = start;
  while (!seen.count(cur)) {
    seen[cur] = path.size();
    path.push_back(cur);
    for (const auto& d : jobs[cur].deps) {
      size_t k = index[d];
      if (missing[k]) {
        cur = k;
        break;
      }
    }
  }
  std::string cyc;
  for (size_t p = seen[cur]; p < path.size(); ++p) cyc += jobs[path[p]].id + " -> ";
  cyc += jobs[cur].id;
  throw Error("dependency cycle: " + cyc);
}

json Plan::to_json() const {
  json j;
  j["campaign"] = campaign;
  j["jobs"] = json::array();
  j["edges"] = json::array();
  for (const auto& job : jobs) {
    json o = {{"id", job.id},       {"kind", job.kind},     {"experiment", job.experiment},
              {"model", job.model}, {"task", job.task},     {"method", job.method},
              {"seed", job.seed < 0 ? json(nullptr) : json(job.seed)},
              {"variant", job.variant}, {"params", job.params}, {"deps", job.deps}};
    j["jobs"].push_back(o);
    for (const auto& d : job.deps) j["edges"].push_back({d, job.id});
  }
  j["counts"] = count_by_kind();
  j["total_jobs"] = jobs.size();
  j["total_edges"] = edge_count();
  return j;
}

std::string Plan::to_text() const {
  size_t w = 0;
  for (const auto& j : jobs) w = std::max(w, j.id.size());
  std::string out;
  for (const auto& j : jobs) {
    out += j.id + std::string(w + 2 - j.id.size(), ' ') + j.kind;
    out += std::string(19 - std::min<size_t>(18, j.kind.size()), ' ');
    out += j.deps.empty() ? "<- (none)" : "<- " + join(j.deps, ", ");
    out += "\n";
  }
  std::vector<std::string> counts;
  for (const char* k : {"decompose", "train_expert", "train_peft", "classifier_expert", "fewshot_search", "evaluate"}) {
    auto c = count_by_kind();
    if (c.count(k)) counts.push_back(std::string(k) + " " + std::to_string(c[k]));
  }
  out += "summary: " + std::to_string(jobs.size()) + " jobs (" + join(counts) + "), " +
         std::to_string(edge_count()) + " dependency edges\n";
  return out;
}

namespace {

// One produced artefact of an upstream experiment: job id and the variant label that a downstream
// job inherits ("experts.kl_coef=0.1").
struct Produced {
  std::string id;
  std::string variant;
};

std::string seed_part(int64_t s) { return "seed" + std::to_string(s); }

std::string join_variant(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "," + b;
}

// Prefixes every key of a label with "<experiment>.".
std::string inherit(const std::string& experiment, const std::string& variant) {
  if (variant.empty()) return "";
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t c = variant.find(',', start);
    out += (out.empty() ? "" : ",") + experiment + "." + variant.substr(start, c == std::string::npos ? c : c - start);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

// What a training job trains, when it is not the default, named in its id like a swept value (so
// that Table 4's SVF rows on one model and task are different jobs): "modules=attn,objective=next_token".
std::string training_variant(const ExperimentSpec& x, const json& point) {
  std::vector<std::pair<std::string, std::string>> defaults;
  if (x.kind == "train_expert")
    defaults = {{"modules", "mlp"}, {"layers", "all"}, {"objective", "policy_gradient"}};
  else if (x.kind == "train_peft")
    defaults = {{"modules", "attn"}, {"objective", "next_token"}};
  std::string out;
  for (const auto& [k, def] : defaults) {
    if (std::find(x.swept.begin(), x.swept.end(), k) != x.swept.end() || !point.contains(k)) continue;
    const std::string v = point[k].is_string() ? point[k].get<std::string>() : point[k].dump();
    if (v != def) out += (out.empty() ? "" : ",") + k + "=" + v;
  }
  return out;
}

class Expander {
 public:
  explicit Expander(const Campaign& c) : c_(c) {}

  Plan run() {
    plan_.campaign = c_.name;
    // Producers before consumers, so consumers find their inputs; explicit depends_on last.
    for (const char* kind : {"train_expert", "train_peft", "classifier_expert", "fewshot_search", "evaluate"})
      for (const auto& x : c_.experiments)
        if (x.kind == kind) expand(x);
    for (const auto& x : c_.experiments)
      if (x.kind == "decompose")
        for (const auto& m : x.models) decompose(m);  // explicit ones exist even when unused
    add_explicit_deps();
    finish_decompose_params();
    if (!errors_.empty()) throw UsageError(join(errors_, "\n"));
    order();
    return std::move(plan_);
  }

 private:
  const Campaign& c_;
  Plan plan_;
  std::vector<std::string> errors_;
  std::map<std::string, size_t> index_;                      // job id -> position in plan_.jobs
  std::map<std::string, std::vector<size_t>> by_experiment_;  // experiment -> its jobs
  // (experiment, model, task, seed) -> produced variants; task "" for the classifier.
  std::map<std::tuple<std::string, std::string, std::string, int64_t>, std::vector<Produced>> produced_;

  void error(const ExperimentSpec& x, const std::string& key, const std::string& what, const std::string& expected) {
    auto it = x.where.find(key);
    std::string where = it != x.where.end() ? it->second : x.where.count("") ? x.where.at("") : c_.file;
    errors_.push_back(where + ": " + x.key_path + "." + key + ": " + what + "; " + expected);
  }

  static std::vector<json> variants(const ExperimentSpec& x, std::vector<std::string>* labels) {
    std::vector<SweepAxis> axes;
    for (const auto& k : x.swept) axes.push_back({k, x.params.at(k).get<std::vector<json>>()});
    std::vector<json> points = cartesian(axes);
    std::vector<json> out;
    for (auto& p : points) {
      json full = x.params;
      for (auto it = p.begin(); it != p.end(); ++it) full[it.key()] = it.value();
      labels->push_back(sweep_label(p, x.swept));
      out.push_back(full);
    }
    return out;
  }

  static bool excluded(const ExperimentSpec& x, const std::string& model, const std::string& task,
                       const std::string& method, int64_t seed) {
    for (const auto& cell : x.exclude) {
      bool match = true;
      if (cell.contains("model") && cell["model"] != model) match = false;
      if (cell.contains("task") && cell["task"] != task) match = false;
      if (cell.contains("method") && cell["method"] != method) match = false;
      if (cell.contains("seed") && cell["seed"] != seed) match = false;
      if (match) return true;
    }
    return false;
  }

  // Adds a job, or merges it with an identical job another experiment already produced.
  bool add(const ExperimentSpec& x, Job j) {
    auto it = index_.find(j.id);
    if (it != index_.end()) {
      Job& old = plan_.jobs[it->second];
      json a = old.params, b = j.params;
      a.erase("experiment"), b.erase("experiment");
      if (a != b || old.deps != j.deps) {
        error(x, "name", "job '" + j.id + "' is also produced by experiment '" + old.experiment + "' with other settings",
              "expected one experiment per job (sweep a hyperparameter inside one experiment instead)");
        return false;
      }
      by_experiment_[x.name].push_back(it->second);
      return true;
    }
    index_[j.id] = plan_.jobs.size();
    by_experiment_[x.name].push_back(plan_.jobs.size());
    plan_.jobs.push_back(std::move(j));
    return true;
  }

  std::string decompose(const std::string& model) {
    const std::string id = "decompose/" + model;
    if (index_.count(id)) return id;
    const ExperimentSpec* owner = nullptr;
    for (const auto& x : c_.experiments)
      if (x.kind == "decompose" && std::find(x.models.begin(), x.models.end(), model) != x.models.end()) owner = &x;
    Job j;
    j.id = id, j.kind = "decompose", j.model = model;
    j.experiment = owner ? owner->name : "decompose";
    if (owner) {
      j.params = owner->params;
    } else {
      for (const auto& s : experiment_kinds().at("decompose").params) j.params[s.name] = s.default_value;
    }
    j.params["model"] = model;
    j.params["experiment"] = j.experiment;
    index_[id] = plan_.jobs.size();
    by_experiment_[j.experiment].push_back(plan_.jobs.size());
    plan_.jobs.push_back(std::move(j));
    return id;
  }

  // modules and layers: auto resolves to what the model's experts adapt (the union).
  void finish_decompose_params() {
    // Models linked by transfer_from decompose the same matrices (a transferred z needs the same layout):
    // each decomposition covers what the experts of its model and of the models linked to it adapt.
    std::map<std::string, std::set<std::string>> linked;
    for (const auto& k : plan_.jobs) {
      linked[k.model].insert(k.model);
      if (k.params.contains("transfer_from") && k.params["transfer_from"].is_string()) {
        const std::string a = k.params["transfer_from"].get<std::string>();
        linked[k.model].insert(a);
        linked[a].insert(k.model);
        linked[a].insert(a);
      }
    }
    auto trainers = [&](const std::string& model) {
      std::vector<const Job*> out;
      const auto& group = linked[model];
      for (const auto& k : plan_.jobs)
        if ((k.kind == "train_expert" || k.kind == "classifier_expert") && (k.model == model || group.count(k.model)))
          out.push_back(&k);
      return out;
    };
    for (auto& j : plan_.jobs) {
      if (j.kind != "decompose" || !j.params.contains("layers") || j.params["layers"] != "auto") continue;
      std::vector<int64_t> all;
      bool every = false, any = false;
      for (const Job* k : trainers(j.model)) {
        auto l = parse_layer_list(k->params.value("layers", std::string("all")));
        any = true;
        every |= l.empty();
        all.insert(all.end(), l.begin(), l.end());
      }
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      j.params["layers"] = !any || every ? "all" : layer_list_text(all);
    }
    for (auto& j : plan_.jobs) {
      if (j.kind != "decompose" || j.params["modules"] != "auto") continue;
      std::set<std::string> mods;
      for (const Job* k : trainers(j.model)) mods.insert(k->params.value("modules", "mlp"));
      // the union: mlp (gate, up, down), attention q and v, and k and o for the *_qkvo names
      bool mlp = mods.empty(), attn = false, qkvo = false;
      for (const auto& m : mods) {
        mlp |= m == "mlp" || m == "all" || m == "all_qkvo";
        attn |= m != "mlp";
        qkvo |= m.find("qkvo") != std::string::npos;
      }
      j.params["modules"] = mlp && attn ? (qkvo ? "all_qkvo" : "all") : attn ? (qkvo ? "attn_qkvo" : "attn") : "mlp";
    }
  }

  void expand(const ExperimentSpec& x) {
    std::vector<std::string> labels;
    std::vector<json> points = variants(x, &labels);
    for (size_t v = 0; v < points.size(); ++v) labels[v] = join_variant(labels[v], training_variant(x, points[v]));
    if (x.kind == "train_expert") {
      for (const auto& m : x.models)
        for (const auto& t : x.tasks)
          for (int64_t s : x.seeds)
            for (size_t v = 0; v < points.size(); ++v) {
              if (excluded(x, m, t, "", s)) continue;
              Job j = base_job(x, m, t, "", s, labels[v], points[v]);
              j.id = "train_expert/" + m + "/" + t + "/" + seed_part(s) + (labels[v].empty() ? "" : "/" + labels[v]);
              // the default objective stays out of the params, so runs made before the key keep their hashes
              if (j.params.value("objective", std::string()) == "policy_gradient") j.params.erase("objective");
              j.deps = {decompose(m)};
              if (add(x, j)) produced_[{x.name, m, t, s}].push_back({j.id, labels[v]});
            }
    } else if (x.kind == "train_peft") {
      // No decomposition: the adapter trains on the plain weights.
      const std::string method = x.params.value("method", std::string("lora"));
      for (const auto& m : x.models)
        for (const auto& t : x.tasks)
          for (int64_t s : x.seeds)
            for (size_t v = 0; v < points.size(); ++v) {
              if (excluded(x, m, t, method, s)) continue;
              Job j = base_job(x, m, t, method, s, labels[v], points[v]);
              j.id = "train_peft/" + m + "/" + t + "/" + method + "/" + seed_part(s) +
                     (labels[v].empty() ? "" : "/" + labels[v]);
              if (add(x, j)) produced_[{x.name, m, t, s}].push_back({j.id, labels[v]});
            }
    } else if (x.kind == "classifier_expert") {
      for (const auto& m : x.models)
        for (int64_t s : x.seeds)
          for (size_t v = 0; v < points.size(); ++v) {
            if (excluded(x, m, "", "", s)) continue;
            Job j = base_job(x, m, "", "", s, labels[v], points[v]);
            j.id = "classifier_expert/" + m + "/" + seed_part(s) + (labels[v].empty() ? "" : "/" + labels[v]);
            const TaskSpec* cls = c_.find_task(points[v]["task"].get<std::string>());
            if (cls) j.params["sources"] = cls->params["sources"];
            j.deps = {decompose(m)};
            if (add(x, j)) produced_[{x.name, m, "", s}].push_back({j.id, labels[v]});
          }
    } else if (x.kind == "fewshot_search") {
      const std::string ex = x.params["experts"].get<std::string>();
      // cross-model few-shot (Table 5): the experts of transfer_from, mixed on this model
      const std::string from = x.params["transfer_from"].is_string() ? x.params["transfer_from"].get<std::string>() : "";
      for (const auto& m : x.models)
        for (const auto& t : x.tasks)
          for (int64_t s : x.seeds) {
            if (excluded(x, m, t, "", s)) continue;
            const std::string src = from.empty() ? m : from;
            auto groups = expert_groups(ex, src, s);
            if (groups.empty()) {
              error(x, "models", "cell " + m + "/" + t + "/" + seed_part(s) + " needs the experts of model '" + src +
                                     "' and seed " + std::to_string(s) + ", which experiment '" + ex + "' does not train",
                    "expected '" + ex + "' to cover that model and seed, or exclude the cell");
              continue;
            }
            const TaskSpec* task = c_.find_task(t);
            for (const auto& [elabel, experts] : groups)
              for (size_t v = 0; v < points.size(); ++v) {
                std::string label = join_variant(labels[v], inherit(ex, elabel));
                if (!from.empty()) label = join_variant(label, "transfer_from=" + from);  // not the model's own search
                Job j = base_job(x, m, t, "", s, label, points[v]);
                j.id = "fewshot_search/" + m + "/" + t + "/" + seed_part(s) + (label.empty() ? "" : "/" + label);
                if (j.params["shots_seed"].is_null() && task) j.params["shots_seed"] = task->params["shots_seed"];
                if (from.empty()) j.params.erase("transfer_from"), j.params.erase("sigma_order");
                j.params["experts"] = json::array();
                j.deps = {decompose(m)};
                for (const auto& e : experts) {
                  j.params["experts"].push_back(e.id);
                  j.deps.push_back(e.id);
                }
                j.params["experts_experiment"] = ex;
                if (add(x, j)) produced_[{x.name, m, t, s}].push_back({j.id, label});
              }
          }
    } else if (x.kind == "evaluate") {
      for (const auto& m : x.models)
        for (const auto& t : x.tasks)
          for (const auto& meth : x.methods)
            for (int64_t s : x.seeds) {
              if (excluded(x, m, t, meth, s)) continue;
              for (size_t v = 0; v < points.size(); ++v) evaluate_cell(x, m, t, meth, s, labels[v], points[v]);
            }
    }
  }

  Job base_job(const ExperimentSpec& x, const std::string& m, const std::string& t, const std::string& meth, int64_t s,
               const std::string& label, const json& point) {
    Job j;
    j.kind = x.kind, j.experiment = x.name, j.model = m, j.task = t, j.method = meth, j.seed = s, j.variant = label;
    j.params = point;
    j.params["experiment"] = x.name;
    j.params["model"] = m;
    if (!t.empty()) j.params["task"] = t;
    if (!meth.empty()) j.params["method"] = meth;
    j.params["seed"] = s;
    return j;
  }

  // The experts of one model and seed in experiment `ex`, grouped by variant label.
  std::vector<std::pair<std::string, std::vector<Produced>>> expert_groups(const std::string& ex, const std::string& m,
                                                                           int64_t s) {
    std::vector<std::pair<std::string, std::vector<Produced>>> out;
    const ExperimentSpec* e = c_.find_experiment(ex);
    if (!e) return out;
    for (const auto& t : e->tasks) {
      auto it = produced_.find({ex, m, t, s});
      if (it == produced_.end()) continue;
      for (const auto& p : it->second) {
        auto g = std::find_if(out.begin(), out.end(), [&](const auto& x) { return x.first == p.variant; });
        if (g == out.end()) out.push_back({p.variant, {}}), g = out.end() - 1;
        g->second.push_back(p);
      }
    }
    return out;
  }

  // The dispatch table label -> expert job for the prompt and classifier strategies.
  bool dispatch_table(const ExperimentSpec& x, const std::string& cell, const std::vector<Produced>& experts, json& out) {
    out = json::object();
    for (const auto& e : experts) {
      const Job& j = plan_.jobs[index_.at(e.id)];
      const TaskSpec* t = c_.find_task(j.task);
      const std::string family = t ? t->family : "other";
      if (std::find(dispatch_labels().begin(), dispatch_labels().end(), family) == dispatch_labels().end()) {
        error(x, "methods", "cell " + cell + ": expert '" + j.id + "' is for a " + family + " task, which no dispatch label routes to",
              "expected experts whose tasks are of the families " + join(dispatch_labels()));
        return false;
      }
      if (out.contains(family)) {
        error(x, "methods", "cell " + cell + ": experts '" + out[family].get<std::string>() + "' and '" + j.id +
                                "' both serve the '" + family + "' label",
              "expected at most one expert per label (" + join(dispatch_labels()) + ")");
        return false;
      }
      out[family] = j.id;
    }
    return true;
  }

  void evaluate_cell(const ExperimentSpec& x, const std::string& m, const std::string& t, const std::string& meth,
                     int64_t s, const std::string& label, const json& point) {
    const std::string cell = m + "/" + t + "/" + meth + "/" + seed_part(s);
    const std::string ex = point["experts"].is_string() ? point["experts"].get<std::string>() : "";
    const std::string cl = point["classifier"].is_string() ? point["classifier"].get<std::string>() : "";
    const std::string fs = point["fewshot"].is_string() ? point["fewshot"].get<std::string>() : "";
    // transfer_from: another model's experts (Tables 5, 9), shown as <method>_transfer_<sigma_order>
    const std::string from = point["transfer_from"].is_string() ? point["transfer_from"].get<std::string>() : "";
    const std::string src = from.empty() || meth == "base" ? m : from;
    std::string auto_label;
    if (!from.empty() && meth != "base") auto_label = meth + "_transfer_" + point.value("sigma_order", std::string("ordered"));
    if (meth == "t2_fewshot" && !fs.empty())
      if (const ExperimentSpec* f = c_.find_experiment(fs); f && f->params.contains("transfer_from") && f->params.at("transfer_from").is_string())
        auto_label = "t2_fewshot_transfer";
    // label: the row the cells are shown in (Table 4's svf_nt_attn, ...), and so the id's method part
    const std::string shown = point["label"].is_string() ? point["label"].get<std::string>()
                              : auto_label.empty()       ? meth
                                                         : auto_label;
    auto make = [&](const std::string& lab) {
      Job j = base_job(x, m, t, meth, s, lab, point);
      j.id = "evaluate/" + m + "/" + t + "/" + shown + "/" + seed_part(s) + (lab.empty() ? "" : "/" + lab);
      for (const char* k : {"experts", "classifier", "fewshot", "lora", "ia3", "dora"}) j.params.erase(k);
      if (j.params["expert_task"].is_null()) j.params.erase("expert_task");
      if (j.params["label"].is_null()) j.params.erase("label");
      if (shown != meth) j.params["label"] = shown;
      if (from.empty() || meth == "base") j.params.erase("transfer_from"), j.params.erase("sigma_order");
      return j;
    };
    auto missing = [&](const std::string& what, const std::string& exp) {
      error(x, "methods", "cell " + cell + " needs " + what + ", which experiment '" + exp + "' does not produce",
            "expected '" + exp + "' to cover it, or exclude the cell (exclude: [{model: " + m + ", task: " + t +
                ", method: " + meth + "}])");
    };
    if (meth == "base") {
      add(x, make(label));
      return;
    }
    // expert_task: the expert / adapter of that task on this one
    const std::string et = point["expert_task"].is_string() ? point["expert_task"].get<std::string>() : t;
    if (meth == "svf") {
      auto it = produced_.find({ex, src, et, s});
      if (it == produced_.end()) return missing("an expert trained on task '" + et + "' for model '" + src + "'", ex);
      for (const auto& e : it->second) {
        Job j = make(join_variant(label, inherit(ex, e.variant)));
        j.params["expert"] = e.id;
        j.deps = {decompose(m), e.id};
        add(x, j);
      }
      return;
    }
    if (meth == "t2_prompt" || meth == "t2_cls") {
      auto groups = expert_groups(ex, src, s);
      if (groups.empty()) return missing("the experts of model '" + src + "'", ex);
      std::vector<Produced> cls = {{"", ""}};
      if (meth == "t2_cls") {
        auto it = produced_.find({cl, m, "", s});
        if (it == produced_.end()) return missing("a classifier expert for model '" + m + "'", cl);
        cls = it->second;
      }
      for (const auto& [elabel, experts] : groups)
        for (const auto& c : cls) {
          json table;
          if (!dispatch_table(x, cell, experts, table)) return;
          std::string lab = join_variant(join_variant(label, inherit(ex, elabel)), inherit(cl, c.variant));
          Job j = make(lab);
          j.params["experts"] = table;
          j.params["dispatch"] = point["dispatch"];
          j.deps = {decompose(m)};
          for (const auto& e : experts) j.deps.push_back(e.id);
          if (meth == "t2_cls") {
            j.params["classifier"] = c.id;
            j.deps.push_back(c.id);
          }
          add(x, j);
        }
      return;
    }
    if (meth == "t2_fewshot") {
      auto it = produced_.find({fs, m, t, s});
      if (it == produced_.end()) return missing("a few-shot search on task '" + t + "' for model '" + m + "'", fs);
      for (const auto& f : it->second) {
        Job j = make(join_variant(label, inherit(fs, f.variant)));
        j.params["fewshot"] = f.id;
        j.deps = {decompose(m), f.id};
        add(x, j);
      }
      return;
    }
    if (meth == "lora" || meth == "ia3" || meth == "dora") {
      const std::string pe = point[meth].is_string() ? point[meth].get<std::string>() : "";
      auto it = produced_.find({pe, m, et, s});
      if (it != produced_.end()) {  // the adapter trained on this task
        for (const auto& e : it->second) {
          Job j = make(join_variant(label, inherit(pe, e.variant)));
          j.params["adapter"] = e.id;
          j.deps = {e.id};
          add(x, j);
        }
        return;
      }
      // A task no adapter was trained on (Table 2's LoRA row): every training-task adapter of the
      // model and seed is a candidate; the evaluation picks the best on this task's valid split.
      if (et != t) return missing("a " + meth + " adapter trained on task '" + et + "' for model '" + m + "'", pe);
      auto groups = expert_groups(pe, m, s);
      if (groups.empty()) return missing("the " + meth + " adapters of model '" + m + "'", pe);
      const TaskSpec* task = c_.find_task(t);
      if (task && !task->split.count("valid")) {
        error(x, "methods", "cell " + cell + ": task '" + t + "' has no " + meth + " adapter of its own and no valid split " +
                                "to choose a training-task adapter on (the choice never looks at the test split)",
              "expected tasks." + t + ".split.valid, or exclude the cell");
        return;
      }
      for (const auto& [elabel, adapters] : groups) {
        Job j = make(join_variant(label, inherit(pe, elabel)));
        j.params["adapter_candidates"] = json::array();
        for (const auto& a : adapters) {
          j.params["adapter_candidates"].push_back(a.id);
          j.deps.push_back(a.id);
        }
        add(x, j);
      }
      return;
    }
    error(x, "methods", "method '" + meth + "' has no expansion rule", "expected one of " + join(eval_methods().names()));
  }

  // depends_on: each job waits for the named experiment's jobs of the same model and seed, or for
  // all of them when none match.
  void add_explicit_deps() {
    for (const auto& x : c_.experiments) {
      for (const auto& d : x.depends_on) {
        auto upstream = by_experiment_.find(d);
        if (upstream == by_experiment_.end()) continue;
        for (size_t ji : by_experiment_[x.name]) {
          Job& j = plan_.jobs[ji];
          std::vector<std::string> matching, all;
          for (size_t ui : upstream->second) {
            const Job& u = plan_.jobs[ui];
            all.push_back(u.id);
            if (u.model == j.model && (u.seed < 0 || j.seed < 0 || u.seed == j.seed)) matching.push_back(u.id);
          }
          for (const auto& id : matching.empty() ? all : matching)
            if (id != j.id && std::find(j.deps.begin(), j.deps.end(), id) == j.deps.end()) j.deps.push_back(id);
        }
      }
    }
  }

  void order() {
    std::vector<std::string> ids;
    try {
      ids = plan_.topological_order();
    } catch (const Error& e) {
      // Only explicit depends_on can close a cycle; report it there.
      for (const auto& x : c_.experiments)
        if (!x.depends_on.empty()) {
          error(x, "depends_on", e.what(), "expected depends_on to point only at earlier stages");
          break;
        }
      throw UsageError(join(errors_, "\n"));
    }
    std::vector<Job> sorted;
    sorted.reserve(ids.size());
    for (const auto& id : ids) sorted.push_back(std::move(plan_.jobs[index_.at(id)]));
    plan_.jobs = std::move(sorted);
  }
};

}  // namespace

Plan expand_plan(const Campaign& campaign) { return Expander(campaign).run(); }

}  // namespace t2
