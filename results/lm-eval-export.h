// A run's evaluations in lm-evaluation-harness's output format, so that its tooling (result
// tables, Zeno, leaderboards, diff scripts) reads t2 results next to its own
// (`t2 export RUN_DIR --format lm-eval --out DIR`; docs/ecosystem.md#lm-evaluation-harness).
//
// Per model x method (x seed, when the run has several), a folder DIR/<model>__<method>[__seed<N>]
// holding what `lm_eval --output_path DIR --log_samples` writes for one model:
//
//   results_<date>.json          results, groups, group_subtasks, configs, versions, n-shot,
//                                higher_is_better, n-samples, config, git_hash, date, model_name, ...
//                                metrics named "<metric>,<filter>" with "<metric>_stderr,<filter>"
//   samples_<task>_<date>.jsonl  one line per example: doc_id, doc, target, arguments (the exact
//                                prompt text and generation settings), resps, filtered_resps (the
//                                extracted answer), filter, metrics, doc_hash, prompt_hash,
//                                target_hash (sha256 as lm-eval computes them) and the score
//
// <date> is the run's end (else start) time as lm-eval spells it ("2026-12-04T22-15-03"), so the
// same run always exports to the same names. Only finished evaluate jobs are exported. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace t2::results {

struct LmEvalExport {
  std::vector<std::string> files;    // written, in order
  std::vector<std::string> skipped;  // evaluate jobs not finished (not exported)
};

// The metric and filter lm-eval uses for a task kind: gsm8k -> exact_match / strict-match,
// arc_* and cls -> acc / none, humaneval -> pass@1 / create_test, mbpp -> pass_at_1 / none,
// math and user tasks -> exact_match / none.
std::pair<std::string, std::string> lm_eval_metric(const std::string& task_kind);

// Writes every file atomically. UsageError when RUN_DIR is not a run or has no finished evaluation.
LmEvalExport export_lm_eval(const std::string& run_dir, const std::string& out_dir);

}  // namespace t2::results
