#include "results/lm-eval-export.h"

#include <cmath>
#include <ctime>
#include <iomanip>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "core/sha256.h"
#include "results/run-reader.h"

namespace t2::results {

namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

// "2026-12-04T22:15:03Z" -> seconds since the epoch (0 when unparsable).
double epoch_of(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return 0;
  return static_cast<double>(timegm(&tm));
}

// lm-eval's file-name date: datetime.isoformat() with ':' replaced by '-'.
std::string file_date(const std::string& iso) {
  std::string d = iso.substr(0, 19);
  for (char& c : d)
    if (c == ':') c = '-';
  return d;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '/')
      out += "__";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
      out += c;
    else
      out += '_';
  }
  return out;
}

std::string param(const JobInfo& j, const std::string& key, const std::string& fallback = "") {
  auto it = j.params.find(key);
  return it == j.params.end() ? fallback : it->second;
}

json param_json(const JobInfo& j, const std::string& key) {
  auto it = j.params.find(key);
  if (it == j.params.end()) return nullptr;
  try {
    return json::parse(it->second);
  } catch (const json::exception&) {
    return it->second;
  }
}

// lm-eval's mean_stderr: the sample standard deviation (n - 1) over sqrt(n).
double mean_stderr(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return 0;
  double mean = 0, ss = 0;
  for (double v : x) mean += v / n;
  for (double v : x) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / (n - 1)) / std::sqrt(n);
}

struct Cell {
  std::string model, method;
  int64_t seed = 0;
  std::vector<JobInfo> jobs;  // one per task
};

}  // namespace

std::pair<std::string, std::string> lm_eval_metric(const std::string& kind) {
  if (kind == "gsm8k") return {"exact_match", "strict-match"};
  if (kind == "arc_easy" || kind == "arc_challenge" || kind == "cls") return {"acc", "none"};
  if (kind == "humaneval") return {"pass@1", "create_test"};
  if (kind == "mbpp") return {"pass_at_1", "none"};
  return {"exact_match", "none"};
}

LmEvalExport export_lm_eval(const std::string& run_dir, const std::string& out_dir) {
  RunReader reader(run_dir);
  const RunMeta meta = reader.meta();
  json resolved = json::object();
  try {
    resolved = json::parse(meta.campaign_resolved);
  } catch (const json::exception&) {
  }
  LmEvalExport rep;
  std::map<std::tuple<std::string, std::string, int64_t>, Cell> cells;
  std::map<std::pair<std::string, std::string>, std::set<int64_t>> seeds;
  for (const auto& id : reader.job_ids()) {
    auto j = reader.job(id);
    if (!j || j->kind != "evaluate") continue;
    if (!reader.is_done(id)) {
      rep.skipped.push_back(id);
      continue;
    }
    Cell& c = cells[{param(*j, "model"), param(*j, "method"), std::stoll(param(*j, "seed", "0"))}];
    c.model = param(*j, "model");
    c.method = param(*j, "method");
    c.seed = std::stoll(param(*j, "seed", "0"));
    c.jobs.push_back(*j);
    seeds[{c.model, c.method}].insert(c.seed);
  }
  T2_CHECK_AS(UsageError, !cells.empty(), "{}: no finished evaluate job to export{}", run_dir,
              rep.skipped.empty() ? "" : fmt::format(" ({} not finished yet)", rep.skipped.size()));

  const std::string when = meta.ended_at.empty() ? meta.started_at : meta.ended_at;
  const std::string date = file_date(when);
  for (const auto& [key, c] : cells) {
    const json model = resolved.contains("models") && resolved["models"].contains(c.model) ? resolved["models"][c.model]
                                                                                           : json::object();
    std::string model_name = model.value("path", c.model);
    std::string model_args = "pretrained=" + model_name;
    if (model.contains("hf_cache")) {
      model_name = model["hf_cache"].value("repo_id", model_name);
      model_args = "pretrained=" + model_name + ",revision=" + model["hf_cache"].value("commit", "");
    }
    model_args += ",dtype=" + model.value("dtype", std::string("bf16")) + ",t2_model=" + c.model +
                  ",t2_method=" + c.method;
    std::string folder = sanitize(model_name) + "__" + c.method;
    if (seeds[{c.model, c.method}].size() > 1) folder += "__seed" + std::to_string(c.seed);
    const std::string dir = out_dir + "/" + folder;
    make_dirs(dir);

    ordered results = ordered::object(), configs = ordered::object(), versions = ordered::object(),
            nshot = ordered::object(), hib = ordered::object(), nsamples = ordered::object(),
            subtasks = ordered::object();
    double start = 0, end = 0, wall = 0;
    int64_t batch_size = 0;
    for (const auto& j : c.jobs) {
      const std::string task = param(j, "task");
      const json tspec = resolved.contains("tasks") && resolved["tasks"].contains(task) ? resolved["tasks"][task]
                                                                                        : json::object();
      const std::string kind = tspec.value("kind", task);
      const auto [metric, filter] = lm_eval_metric(kind);
      const auto records = reader.read_examples(j.id);
      const auto m = reader.metrics(j.id);
      std::vector<double> scores;
      for (const auto& r : records) scores.push_back(r.score);
      const double acc = m ? m->accuracy : 0.0;

      ordered res = ordered::object();
      res["alias"] = task;
      res[metric + "," + filter] = acc;
      res[metric + "_stderr," + filter] = mean_stderr(scores);
      results[task] = res;
      const double temperature = param_json(j, "temperature").is_number() ? param_json(j, "temperature").get<double>() : 0.0;
      ordered gen = ordered::object();
      gen["max_gen_toks"] = tspec.value("max_new_tokens", int64_t{512});
      gen["do_sample"] = temperature > 0;
      gen["temperature"] = temperature;
      if (tspec.contains("stop") && tspec["stop"].is_array()) gen["until"] = tspec["stop"];
      ordered cfg = ordered::object();
      cfg["task"] = task;
      cfg["tag"] = ordered::array({"t2"});
      cfg["dataset_path"] = tspec.contains("data") && tspec["data"].contains("test") ? tspec["data"]["test"] : json(nullptr);
      cfg["test_split"] = "test";
      cfg["doc_to_text"] = "the t2 prompt of task kind " + kind + " (each sample's arguments hold the exact text)";
      cfg["doc_to_target"] = "reference";
      cfg["description"] = "";
      cfg["target_delimiter"] = " ";
      cfg["fewshot_delimiter"] = "\n\n";
      cfg["num_fewshot"] = 0;
      cfg["metric_list"] = ordered::array({ordered{{"metric", metric}, {"aggregation", "mean"}, {"higher_is_better", true}}});
      cfg["output_type"] = "generate_until";
      cfg["generation_kwargs"] = gen;
      cfg["repeats"] = 1;
      cfg["filter_list"] = ordered::array(
          {ordered{{"name", filter}, {"filter", ordered::array({ordered{{"function", "t2:" + kind}}})}}});
      cfg["should_decontaminate"] = false;
      cfg["metadata"] = ordered{{"version", 1.0}, {"t2_task_kind", kind}, {"t2_job", j.id}, {"t2_method", c.method}};
      configs[task] = cfg;
      versions[task] = 1.0;
      nshot[task] = 0;
      hib[task] = ordered{{metric, true}};
      nsamples[task] = ordered{{"original", records.size()}, {"effective", records.size()}};
      subtasks[task] = ordered::array();
      const double s = epoch_of(j.started_at), e = epoch_of(j.finished_at);
      if (s > 0 && (start == 0 || s < start)) start = s;
      if (e > end) end = e;
      wall += j.wall_seconds;
      if (param_json(j, "batch_size").is_number_integer()) batch_size = param_json(j, "batch_size").get<int64_t>();

      // The samples, as lm-eval logs them.
      std::string lines;
      for (const auto& r : records) {
        ordered doc = ordered::object();  // keys in sorted order: Python's json.dumps keeps insertion order
        doc["example_id"] = r.example_id;
        doc["example_index"] = r.example_index;
        doc["reference"] = r.reference;
        ordered s = ordered::object();
        s["doc_id"] = r.example_index;
        s["doc"] = doc;
        s["target"] = r.reference;
        s["arguments"] = ordered::array({ordered::array({r.prompt, gen})});
        s["resps"] = ordered::array({ordered::array({r.response})});
        s["filtered_resps"] = ordered::array({r.extracted});
        s["filter"] = filter;
        s["metrics"] = ordered::array({metric});
        s["doc_hash"] = sha256_hex(doc.dump(2, ' ', false, ordered::error_handler_t::replace));
        s["prompt_hash"] = sha256_hex(r.prompt);
        s["target_hash"] = sha256_hex(r.reference);
        s[metric] = r.score;
        s["t2_route"] = r.route;
        s["t2_prompt_hash"] = r.prompt_hash;
        s["t2_prompt_tokens"] = r.prompt_tokens;
        s["t2_response_tokens"] = r.response_tokens;
        lines += s.dump(-1, ' ', false, ordered::error_handler_t::replace) + "\n";
      }
      const std::string samples = dir + "/samples_" + sanitize(task) + "_" + date + ".jsonl";
      write_file_atomic(samples, lines);
      rep.files.push_back(samples);
    }

    ordered top = ordered::object();
    top["results"] = results;
    top["groups"] = ordered::object();
    top["group_subtasks"] = subtasks;
    top["configs"] = configs;
    top["versions"] = versions;
    top["n-shot"] = nshot;
    top["higher_is_better"] = hib;
    top["n-samples"] = nsamples;
    ordered config = ordered::object();
    config["model"] = "t2";
    config["model_args"] = model_args;
    config["batch_size"] = batch_size;
    config["batch_sizes"] = ordered::array();
    config["device"] = nullptr;
    config["use_cache"] = nullptr;
    config["limit"] = nullptr;
    config["bootstrap_iters"] = 0;
    config["gen_kwargs"] = nullptr;
    config["random_seed"] = c.seed;
    config["numpy_seed"] = c.seed;
    config["torch_seed"] = c.seed;
    config["fewshot_seed"] = c.seed;
    top["config"] = config;
    top["git_hash"] = meta.git_sha;
    top["date"] = epoch_of(meta.started_at);
    top["pretty_env_info"] = "t2 " + meta.t2_version;
    top["transformers_version"] = nullptr;
    top["upper_git_hash"] = nullptr;
    top["task_hashes"] = ordered::object();
    top["model_source"] = "t2";
    top["model_name"] = model_name;
    top["model_name_sanitized"] = sanitize(model_name);
    top["system_instruction"] = nullptr;
    top["system_instruction_sha"] = nullptr;
    top["fewshot_as_multiturn"] = false;
    top["chat_template"] = model.value("chat_template", std::string("auto"));
    top["chat_template_sha"] = nullptr;
    top["start_time"] = start;
    top["end_time"] = end;
    top["total_evaluation_time_seconds"] = fmt::format("{}", wall);
    top["t2"] = ordered{{"run_dir", run_dir},          {"campaign", meta.name}, {"model", c.model},
                        {"method", c.method},          {"seed", c.seed},        {"t2_version", meta.t2_version},
                        {"started_at", meta.started_at}, {"ended_at", meta.ended_at}};
    const std::string path = dir + "/results_" + date + ".json";
    write_file_atomic(path, top.dump(2, ' ', false, ordered::error_handler_t::replace) + "\n");
    rep.files.push_back(path);
  }
  return rep;
}

}  // namespace t2::results
