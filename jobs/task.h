// Tasks: the benchmarks t2 trains and evaluates on (GSM8K, MATH, MBPP, HumanEval, ARC-Easy,
// ARC-Challenge, the dispatch classifier `cls`, and user-defined JSONL tasks). A task loads its
// published data files, splits them (METHOD.md §4.3), builds prompts exactly as the reference
// (METHOD.md §5) and scores responses into a verdict and a REINFORCE reward. Torch-free, MPI-free.
//
//   auto task = t2::tasks::make_task("gsm8k", opts);
//   auto examples = task->load("test");
//   Verdict v = task->score(examples[0], response);          // one response
//   auto verdicts = t2::tasks::score_batch(*task, examples, responses, 2);  // many, code in a pool
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/sandbox.h"

namespace t2::tasks {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct Example {
  std::string id;      // stable: GSM8K/MATH "<split>/<index>" (MATH-500 also unique_id), ARC id, code task_id
  size_t index = 0;    // position in the data file the example came from
  std::string source;  // "file:line" of the record
  std::vector<ChatMessage> messages;
  std::string assistant_prefill;  // appended verbatim after the generation prompt ("" for none)
  nlohmann::json gold;            // what scoring needs (answer, letter, tests, ...)
  std::string question;           // the bare question (for the dispatch classifier)
};

struct Verdict {
  bool correct = false;
  bool parsed = false;     // an answer could be extracted (code: a program could be built)
  std::string extracted;   // the extracted answer (or the program's outcome for code)
  double reward = 0;       // from TaskOptions: correct / wrong / unparsed
  std::string detail;      // why (normalised forms, failing test, sandbox status)
  nlohmann::json to_json() const;
};

// Compat switches (DESIGN.md decision 8); docs/tasks.md lists each. Default: all off (correct behaviour).
namespace compat {
inline const std::string gsm8k_regex = "gsm8k_regex";        // `\d*\.?\d+` extraction, drops commas/signs
inline const std::string arc_guess = "arc_guess";            // unparseable ARC answers get the reference's guess
inline const std::string arc_raw_keys = "arc_raw_keys";      // numeric ARC keys compared raw (never match)
inline const std::string cls_test_data = "cls_test_data";    // cls built from test splits (contaminated)
inline const std::string cls_case_sensitive = "cls_case_sensitive";  // classifier label match as written
inline const std::string math_tolerance = "math_tolerance";  // symbolic MATH comparison at rel 1e-3 (2221 == 2220)
inline const std::string mbpp_no_sanitize = "mbpp_no_sanitize";      // run the completion unsanitised
// "original" turns on every switch above that changes scoring or data (not mbpp_no_sanitize).
inline const std::string original = "original";
}  // namespace compat

struct TaskOptions {
  std::string data_root;  // folder holding data/<task>/...; default: $T2_DATA_DIR, else ../shared
  // Explicit data files by role ("train", "test", "validation", "transfer", "problems", ...); a role
  // given here replaces the default file under data_root. Roles per task: docs/tasks.md.
  std::map<std::string, std::string> files;
  std::set<std::string> compat;
  // rewards (METHOD.md §4.2: +1 / -1, unparsed answers -1)
  double reward_correct = 1.0, reward_wrong = -1.0, reward_unparsed = -1.0;
  // splits (METHOD.md §4.3)
  std::string shuffle = "python";  // "python" (random.shuffle) or "numpy" (RandomState.shuffle)
  uint64_t split_seed = 16;        // MBPP: shuffle seed of the training pool
  size_t pool_size = 300;          // MBPP: the first pool_size problems form train+validation
  size_t train_size = 200;         // MBPP: of which the first train_size (after shuffling) train
  size_t limit = 0;                // keep at most this many examples per split (0 = all)
  // MATH
  bool use_sympy = true;
  std::string python = "/usr/bin/python3";
  // code tasks
  SandboxOptions sandbox;
  std::string time_limit = "fixed";  // "fixed" (test_seconds per test) or "evalplus"
  double test_seconds = 5.0;
  double min_test_seconds = 0.2, test_time_factor = 4.0;  // evalplus: max(0.2 s, 4 x reference time)
  int parallelism = 2;                                    // programs at once in score_batch
  // cls
  size_t cls_per_source = 399;
  // user tasks (jobs/user-task-spec.h): the checked keys as JSON text (a campaign's task), else the
  // YAML spec file of `t2 score user --spec`
  std::string user_params;
  std::string user_spec;

  bool has_compat(const std::string& c) const { return compat.count(c) || compat.count(compat::original); }
  std::string data_file(const std::string& role, const std::string& default_relative) const;
};

class Task {
 public:
  explicit Task(TaskOptions opt) : opt_(std::move(opt)) {}
  virtual ~Task() = default;

  virtual std::string kind() const = 0;
  virtual std::vector<std::string> splits() const = 0;
  // The examples of a split (UsageError listing the valid splits for another name).
  virtual std::vector<Example> load(const std::string& split) const = 0;
  // Every record of one data file in this task's format, in file order (for `t2 score --data`).
  virtual std::vector<Example> load_file(const std::string& path) const = 0;

  virtual Verdict score(const Example& ex, const std::string& response) const = 0;
  // Many responses at once; code tasks run their programs `parallelism` at a time, MATH batches
  // its sympy checks. responses.size() == examples.size().
  virtual std::vector<Verdict> score_many(const std::vector<Example>& examples,
                                          const std::vector<std::string>& responses, int parallelism) const;

  // Generation settings of the reference (METHOD.md §5).
  virtual int max_new_tokens() const { return 512; }
  virtual int max_model_len() const { return 1024; }
  virtual std::vector<std::string> stop_strings() const {
    return {"Instruction:", "Instruction", "Response:", "Response"};
  }
  // The chat template the reference uses with Llama 3: "llama3_plain", "llama3_cot" (= plain, with the
  // Example's assistant_prefill), "code_prompt"; "model_default" for the tokenizer's own template.
  virtual std::string chat_template() const { return "llama3_plain"; }
  virtual std::string metric() const { return "acc"; }
  virtual bool runs_code() const { return false; }

  const TaskOptions& options() const { return opt_; }
  double reward_for(bool correct, bool parsed) const {
    return correct ? opt_.reward_correct : parsed ? opt_.reward_wrong : opt_.reward_unparsed;
  }

 protected:
  std::vector<Example> limit(std::vector<Example> v) const {
    if (opt_.limit && v.size() > opt_.limit) v.resize(opt_.limit);
    return v;
  }
  TaskOptions opt_;
};

// The registered kinds: gsm8k, math, mbpp, humaneval, arc_easy, arc_challenge, cls, user.
std::vector<std::string> task_kinds();
// UsageError with "did you mean" for an unknown kind.
std::unique_ptr<Task> make_task(const std::string& kind, const TaskOptions& opt = {});

// Verdicts for responses[i] against examples[i]; code tasks in a pool of `parallelism` sandboxes.
std::vector<Verdict> score_batch(const Task& task, const std::vector<Example>& examples,
                                 const std::vector<std::string>& responses, int parallelism = 2);

// Prompt-based dispatch (METHOD.md §6.1): the classification prompt with `ex`'s question as the
// user turn, and the label of a classifier response: the first \boxed{...} content if it is code, math
// or reasoning (trimmed and lower-cased unless case_sensitive, the reference's behaviour), else "other".
Example dispatch_example(const Example& ex);
// The first pass as the reference runs it (METHOD.md §6.1): the classification prompt under the
// *evaluated* task's generation settings. Its chat template and its answer budget and stop strings
// (Task::max_new_tokens, stop_strings; the campaign's task keys where set) come from the task; the
// prompt keeps the prefill that the task's template carries (ARC's "Let's think step by step"), not
// the code tasks' fenced prefill, which the reference sends with answers only.
Example first_pass_example(const Task& evaluated, const Example& ex);
std::string dispatch_label(const std::string& response, bool case_sensitive = false);

// The system prompts, byte for byte (METHOD.md §5, §6.1).
namespace prompts {
extern const char* const gsm8k_system;
extern const char* const math_system;
extern const char* const arc_system;
extern const char* const code_system;
extern const char* const classify_system;
extern const char* const arc_prefill;   // "Let's think step by step"
extern const char* const code_prefill;  // "```python"
}  // namespace prompts

}  // namespace t2::tasks
