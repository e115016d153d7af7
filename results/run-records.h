// Plain data that t2 stores in a run directory: run metadata, jobs, per-example records, metrics,
// training checkpoints with their curve, and CEM generations. Torch-free; the HDF5 layout of each
// is in docs/results-schema.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace t2::results {

inline constexpr int64_t schema_version = 1;

// A model or a task of the campaign: its key and the name printed in tables ("Llama3-8B-Instruct").
struct NamedItem {
  std::string key;
  std::string display_name;
};

struct RunMeta {
  std::string name;                    // the campaign's name
  std::string campaign_yaml;           // the file as given
  std::string campaign_resolved;       // after defaults and sweep expansion (YAML)
  std::string t2_version, git_sha;     // filled by RunStore when empty
  std::vector<std::string> hosts;
  std::vector<std::string> placement;  // one summary line, then one line per rank: host, device, group
  int64_t ranks = 1;
  std::string started_at, ended_at;    // ISO 8601 UTC; started_at filled by RunStore when empty
  std::vector<int64_t> seeds;
  std::vector<NamedItem> models;       // table row order
  std::vector<NamedItem> tasks;        // table column order
  int64_t sessions = 0;                // how many times a writer opened the run (1 + resumes)
  // The code sandbox's isolation for this run: "namespaces", "rlimits" (the explicit opt-out), or
  // empty in runs written before it was recorded. Each evaluate/train job of a task that runs code
  // (or MATH's sympy fallback) also records the level it reached in its params ("sandbox").
  std::string sandbox_isolation;
};

enum class JobStatus { pending, running, failed, done };
const char* job_status_name(JobStatus s);   // "pending", "running", "failed", "done"

// One job of the campaign DAG. `params` are the job's parameters as strings; evaluate jobs carry at
// least model, task, method and seed, which `t2 table` groups by.
struct JobInfo {
  std::string id;                      // opaque, e.g. "evaluate/llama3-8b/gsm8k/svf/seed42"
  std::string kind;                    // decompose, train-expert, few-shot-search, evaluate
  std::map<std::string, std::string> params;
  JobStatus status = JobStatus::pending;
  std::string message;                 // why it failed, or empty
  std::string started_at, finished_at;
  double wall_seconds = 0;
  int64_t attempts = 0;
};

// One evaluated example. Every number in a table traces back to these.
struct ExampleRecord {
  std::string example_id;              // the task's own id ("gsm8k/test/17")
  int64_t example_index = 0;           // position in the evaluated split
  std::string prompt_hash;             // hex digest of the exact prompt text sent
  std::string response;                // generated text
  std::string extracted;               // answer extracted from the response
  std::string reference;               // the expected answer
  double score = 0;                    // 1/0 for exact tasks, fraction for partial credit
  std::string route;                   // expert or mixture used ("gsm8k", "mix", "base")
  int64_t prompt_tokens = 0, response_tokens = 0;
  std::string prompt;                  // the exact prompt text sent (chat template applied); empty in
                                       // runs written before it was kept
};

// A finished batch of records; batch b covers examples [first_example, first_example + size).
struct EvalBatch {
  int64_t index = 0;
  int64_t first_example = 0;
  std::vector<ExampleRecord> records;
};

struct Metrics {
  double accuracy = 0;                 // mean score, in [0, 1]
  int64_t n = 0;
  double standard_error = 0;           // sqrt(p (1 - p) / n)
  std::map<std::string, double> extra; // further named metrics (pass@1, ...), also fractions
  // Accuracy, n and standard error of a list of scores.
  static Metrics from_scores(const std::vector<double>& scores);
  static Metrics from_records(const std::vector<ExampleRecord>& records);
  // The value of `name` ("accuracy" or an extra); nullopt when absent.
  std::optional<double> get(const std::string& name) const;
};

// The training curve, one entry per optimisation step. NaN marks a value not measured at that step
// (validation accuracy is measured every few steps only).
struct CurvePoint {
  int64_t step = 0;
  double reward_mean = 0, reward_std = 0, loss = 0, kl = 0, grad_norm = 0;
  double val_accuracy = 0;             // NaN when not measured at this step
};

struct TrainingCurve {
  std::vector<CurvePoint> points;
};

// Everything needed to resume training bit-identically: named arrays (z, Adam moments), integer
// arrays (data cursor, permutation), byte arrays (RNG states), scalars, strings, and the curve so far.
// Names may contain '/' (stored as nested groups).
struct CheckpointState {
  int64_t step = 0;
  double best_score = 0;               // best validation accuracy so far
  int64_t best_step = -1;
  std::map<std::string, std::vector<float>> floats;
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, std::vector<uint8_t>> bytes;
  std::map<std::string, double> scalars;
  std::map<std::string, std::string> strings;
  TrainingCurve curve;
};

// One finished CEM generation of a few-shot search: the distribution after the update, the best
// candidate so far, and the state to resume from (RNG bytes).
struct CemGeneration {
  int64_t generation = 0;
  std::vector<double> mean, std;
  double best_score = 0;               // best candidate score so far
  std::vector<double> best_alpha;
  std::vector<double> population_scores;   // scores of this generation's candidates
  std::map<std::string, std::vector<uint8_t>> bytes;
};

// "2026-11-22T11:15:03Z"
std::string utc_now_iso();

// The prompt_hash of ExampleRecord: 64-bit FNV-1a of the exact prompt bytes, 16 lowercase hex digits.
// Cheap, stable across platforms and easy to recompute elsewhere (Python: see docs/results-schema.md);
// it identifies prompts for tracing, it is not a cryptographic digest.
std::string prompt_hash(std::string_view prompt);

}  // namespace t2::results
