// A run-directory fixture holding the published numbers of Transformer² (arXiv 2501.06252v3,
// Tables 1 and 2; METHOD.md §8) as final accuracy metrics of evaluate jobs, written through the
// results writer exactly as the coordinator writes them. Table 1 is split over two run directories
// (as a sweep split over Slurm jobs would be) to exercise merging.
#pragma once

#include <string>
#include <vector>

#include "results/run-store.h"

namespace t2::fixture {

struct PaperRow {
  std::string model, method;
  std::vector<double> scores;   // percent, in the column order of the table
};

inline const std::vector<results::NamedItem> paper_models = {
    {"llama3-8b", "Llama3-8B-Instruct"},
    {"mistral-7b", "Mistral-7B-Instruct-v0.3"},
    {"llama3-70b", "Llama3-70B-Instruct"}};

// Table 1: SVF on the training tasks.
inline const std::vector<results::NamedItem> table1_tasks = {
    {"gsm8k", "GSM8K"}, {"mbpp_pro", "MBPP-Pro"}, {"arc_easy", "ARC-Easy"}};
inline const std::vector<int64_t> table1_n = {1319, 99, 2376};
inline const std::vector<PaperRow> table1_rows = {
    {"llama3-8b", "base", {75.89, 64.65, 88.59}},  {"llama3-8b", "lora", {77.18, 67.68, 88.97}},
    {"llama3-8b", "svf", {79.15, 66.67, 89.56}},   {"mistral-7b", "base", {42.83, 49.50, 81.65}},
    {"mistral-7b", "lora", {44.66, 51.52, 81.19}}, {"mistral-7b", "svf", {49.74, 51.52, 85.14}},
    {"llama3-70b", "base", {85.29, 80.81, 89.10}}, {"llama3-70b", "lora", {77.26, 68.69, 88.55}},
    {"llama3-70b", "svf", {88.32, 80.81, 88.47}}};

// Table 2: self-adaptation on unseen tasks.
inline const std::vector<results::NamedItem> table2_tasks = {
    {"math", "MATH"}, {"humaneval", "HumanEval"}, {"arc_challenge", "ARC-Challenge"}};
inline const std::vector<int64_t> table2_n = {5000, 164, 1172};
inline const std::vector<PaperRow> table2_rows = {
    {"llama3-8b", "base", {24.54, 60.98, 80.63}},       {"llama3-8b", "lora", {24.12, 52.44, 81.06}},
    {"llama3-8b", "t2_prompt", {25.22, 61.59, 81.74}},  {"llama3-8b", "t2_cls", {25.18, 62.80, 81.37}},
    {"llama3-8b", "t2_fewshot", {25.47, 62.99, 82.61}}, {"mistral-7b", "base", {13.02, 43.29, 71.76}},
    {"mistral-7b", "lora", {13.16, 37.80, 75.77}},      {"mistral-7b", "t2_prompt", {11.86, 43.90, 72.35}},
    {"mistral-7b", "t2_cls", {11.60, 43.90, 74.83}},    {"mistral-7b", "t2_fewshot", {13.39, 47.40, 75.47}},
    {"llama3-70b", "base", {40.64, 78.66, 87.63}},      {"llama3-70b", "lora", {25.40, 73.78, 83.70}},
    {"llama3-70b", "t2_prompt", {40.44, 79.88, 88.48}}};

inline std::string eval_job_id(const std::string& model, const std::string& task, const std::string& method,
                               int seed) {
  return "evaluate/" + model + "/" + task + "/" + method + "/seed" + std::to_string(seed);
}

// Writes the rows (only those of `models`) into RUN_DIR as done evaluate jobs with final metrics.
inline void write_paper_run(const std::string& dir, const std::vector<results::NamedItem>& tasks,
                            const std::vector<int64_t>& n, const std::vector<PaperRow>& rows,
                            const std::vector<std::string>& models) {
  results::RunMeta meta;
  meta.name = "paper-fixture";
  meta.campaign_yaml = "# the published numbers of arXiv 2501.06252v3 as a fixture\n";
  meta.models = paper_models;
  meta.tasks = tasks;
  meta.seeds = {42};
  auto store = results::RunStore::open_for_write(dir, meta);
  for (auto& row : rows) {
    if (std::find(models.begin(), models.end(), row.model) == models.end()) continue;
    for (size_t k = 0; k < tasks.size(); ++k) {
      std::string id = eval_job_id(row.model, tasks[k].key, row.method, 42);
      store.begin_job({id, "evaluate",
                       {{"model", row.model}, {"task", tasks[k].key}, {"method", row.method}, {"seed", "42"}}});
      results::Metrics m;
      m.accuracy = row.scores[k] / 100.0;
      m.n = n[k];
      m.standard_error = std::sqrt(m.accuracy * (1 - m.accuracy) / m.n);
      store.write_metrics(id, m);
      store.mark_done(id);
    }
  }
  store.finish_run();
}

}  // namespace t2::fixture
