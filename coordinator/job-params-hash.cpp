#include "coordinator/job-params-hash.h"

#include <cstdint>
#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace t2 {

namespace {

using nlohmann::json;

void flatten(const json& v, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  out[prefix] = v.dump();  // nlohmann::json objects are key-sorted: the text is canonical
}

// Two FNV-1a 64-bit passes with different offsets: 128 bits, enough to tell edits apart.
std::string hash_values(const std::map<std::string, std::string>& values) {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  auto feed = [&](const std::string& s) {
    for (unsigned char ch : s) {
      a = (a ^ ch) * 0x100000001b3ull;
      b = (b ^ static_cast<unsigned char>(ch ^ 0x5a)) * 0x100000001b3ull;
    }
    a = (a ^ 0xff) * 0x100000001b3ull;  // separator: ("ab","c") != ("a","bc")
    b = (b ^ 0xfe) * 0x100000001b3ull;
  };
  for (const auto& [k, v] : values) {
    feed(k);
    feed(v);
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

void add_task(const Campaign& c, const std::string& name, std::set<std::string>& seen,
              std::map<std::string, std::string>& out) {
  if (!seen.insert(name).second) return;
  const TaskSpec* t = c.find_task(name);
  if (!t) return;
  json p = t->params;
  p.erase("display_name");
  flatten(p, "tasks." + name, out);
  // tasks it names (a cls task's sources), at any depth of its params
  std::vector<const json*> stack{&t->params};
  while (!stack.empty()) {
    const json* v = stack.back();
    stack.pop_back();
    if (v->is_string()) {
      if (c.find_task(v->get<std::string>())) add_task(c, v->get<std::string>(), seen, out);
    } else if (v->is_structured()) {
      for (const auto& x : *v) stack.push_back(&x);
    }
  }
}

}  // namespace

json JobParams::to_json() const { return {{"hash", hash}, {"params", values}}; }

JobParams JobParams::from_json(const json& j) {
  JobParams p;
  if (j.contains("hash") && j["hash"].is_string()) p.hash = j["hash"].get<std::string>();
  if (j.contains("params") && j["params"].is_object())
    for (auto it = j["params"].begin(); it != j["params"].end(); ++it)
      if (it.value().is_string()) p.values[it.key()] = it.value().get<std::string>();
  return p;
}

std::map<std::string, JobParams> job_params_of(const Campaign& c, const Plan& plan) {
  std::map<std::string, JobParams> out;
  for (const auto& job : plan.jobs) {  // topological: dependencies are already in `out`
    JobParams p;
    auto& v = p.values;
    v["kind"] = json(job.kind).dump();
    if (!job.model.empty()) v["model"] = json(job.model).dump();
    if (!job.task.empty()) v["task"] = json(job.task).dump();
    if (!job.method.empty()) v["method"] = json(job.method).dump();
    if (job.seed >= 0) v["seed"] = json(job.seed).dump();
    flatten(job.params, "", v);
    if (job.params.is_object() && job.params.empty()) v.erase("");
    if (!job.model.empty())
      if (const ModelSpec* m = c.find_model(job.model)) {
        json mp = m->params;
        for (const char* k : {"tp", "gpu_memory_gb", "display_name"}) mp.erase(k);
        // a Hub id's results depend on the snapshot it resolved to, not on how the revision was named
        if (!m->hf_commit.empty()) {
          mp.erase("revision");
          mp["commit"] = m->hf_commit;
        }
        flatten(mp, "models." + m->name, v);
      }
    std::set<std::string> seen;
    if (!job.task.empty()) add_task(c, job.task, seen, v);
    std::vector<const json*> stack{&job.params};
    while (!stack.empty()) {  // tasks named in the params (a classifier expert's cls task)
      const json* x = stack.back();
      stack.pop_back();
      if (x->is_string()) {
        if (c.find_task(x->get<std::string>())) add_task(c, x->get<std::string>(), seen, v);
      } else if (x->is_structured()) {
        for (const auto& y : *x) stack.push_back(&y);
      }
    }
    for (const auto& d : job.deps) {
      auto it = out.find(d);
      v["inputs." + d] = json(it == out.end() ? std::string("?") : it->second.hash).dump();
    }
    p.hash = hash_values(v);
    out.emplace(job.id, std::move(p));
  }
  return out;
}

std::vector<std::string> changed_keys(const JobParams& before, const JobParams& now) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : before.values) {
    auto it = now.values.find(k);
    if (it == now.values.end() || it->second != v) keys.push_back(k);
  }
  for (const auto& [k, v] : now.values)
    if (!before.values.count(k)) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace t2
