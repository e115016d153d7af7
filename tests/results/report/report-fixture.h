// A run directory like one t2 produces: evaluate jobs with the paper's Table 1 numbers (two models),
// two trained experts with checkpoints carrying their curves, and a few-shot CEM search.
#pragma once

#include <cmath>
#include <string>

#include "results/run-store.h"
#include "tests/results/table/paper-fixture.h"

namespace t2::fixture {

inline const char* const train_jobs[] = {"train-expert/llama3-8b/gsm8k", "train-expert/llama3-8b/mbpp_pro"};
inline const char* const cem_job_id = "few-shot-search/llama3-8b/arc_challenge";

inline void write_report_run(const std::string& dir) {
  write_paper_run(dir, table1_tasks, table1_n, table1_rows, {"llama3-8b", "mistral-7b"});
  results::RunMeta meta = results::RunReader(dir).meta();
  auto store = results::RunStore::open_for_write(dir, meta);
  int e = 0;
  for (const char* id : train_jobs) {
    store.begin_job({id, "train-expert", {{"model", "llama3-8b"}}});
    results::CheckpointState s;
    for (int step = 1; step <= 60; ++step) {
      double r = 0.3 + 0.4 * (1 - std::exp(-step / (15.0 + 10 * e)));
      s.curve.points.push_back({step, r, 0.1 + 0.05 * std::cos(step * 0.3), -r, 1e-3 * step, 0.5,
                                step % 5 == 0 ? r + 0.1 : std::nan("")});
      if (step % 30 == 0) {
        s.step = step;
        s.floats["z"] = std::vector<float>(16, 0.1f * static_cast<float>(step));
        store.write_checkpoint(id, s);
      }
    }
    store.mark_done(id);
    ++e;
  }
  store.begin_job({cem_job_id, "few-shot-search", {{"model", "llama3-8b"}}});
  double best = 0;
  for (int g = 0; g < 8; ++g) {
    results::CemGeneration gen;
    gen.generation = g;
    gen.mean = {0.5, 0.5};
    gen.std = {0.3 / (g + 1), 0.3 / (g + 1)};
    gen.population_scores = {0.70 + 0.01 * g, 0.72 + 0.012 * g, 0.68 + 0.01 * g};
    for (double v : gen.population_scores) best = std::max(best, v);
    gen.best_score = best;
    gen.best_alpha = {0.4, 0.6};
    store.write_cem_generation(cem_job_id, gen);
  }
  store.mark_done(cem_job_id);
  store.finish_run();
}

}  // namespace t2::fixture
