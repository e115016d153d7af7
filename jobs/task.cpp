#include "jobs/task.h"

#include <algorithm>
#include <cstdlib>

#include "core/check.h"
#include "core/files.h"
#include "core/names.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

namespace prompts {
const char* const gsm8k_system =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n";
const char* const math_system =
    "Solve the question below by reasoning step by step,and put the final answer within \\boxed{}.";
const char* const arc_system =
    "The following are multiple choice questions (with answers). Think step by step and then finish your answer "
    "with \"the answer is (X)\" where X is the correct letter choice.";
const char* const code_system =
    "You are an exceptionally intelligent coding assistant that  consistently delivers accurate and reliable "
    "responses to user instructions.";
// As written in the reference (a Python triple-quoted string inside an indented block): a leading
// newline, every line indented by four spaces, blank lines empty, a trailing space on line 3.
const char* const classify_system =
    "\n"
    "    # Analyze the given question and classify it into one of four categories: 'code', 'math', 'reasoning' "
    "or 'other'. Follow these guidelines:\n"
    "\n"
    "    1. Code: Questions asking for programming solutions, functions, algorithms. Often includes specific "
    "programming terms, language syntax, or data structures.\n"
    "    2. Math: Questions involving mathematical calculations, formulas, statistics. Often includes numbers, "
    "equations, or mathematical operations.\n"
    "    3. Reasoning: Questions requiring logical thinking, application of scientific knowledge, or critical "
    "analysis of information. Often presents statements that need evaluation based on general understanding. \n"
    "    4. Other: Questions not clearly fit into above categories.\n"
    "\n"
    "    Instructions:\n"
    "    - Consider the primary focus, skills, and knowledge required to answer the question.\n"
    "    - If a question spans multiple categories, choose the most dominant one.\n"
    "    - Provide your final classification within \\boxed{} notation. Example: \\boxed{reasoning}\n"
    "\n"
    "    Format your response as follows:\n"
    "    Classification: \\boxed{category}\n"
    "    ";
const char* const arc_prefill = "Let's think step by step";
const char* const code_prefill = "```python";
}  // namespace prompts

nlohmann::json Verdict::to_json() const {
  return {{"correct", correct}, {"parsed", parsed}, {"extracted", extracted}, {"reward", reward}, {"detail", detail}};
}

std::string TaskOptions::data_file(const std::string& role, const std::string& default_relative) const {
  auto it = files.find(role);
  if (it != files.end()) return it->second;
  std::string root = data_root;
  if (root.empty()) {
    const char* env = std::getenv("T2_DATA_DIR");
    root = env && *env ? env : "../shared";
  }
  return root + "/data/" + default_relative;
}

void unknown_split(const std::string& kind, const std::string& split, const std::vector<std::string>& valid) {
  T2_FAIL_AS(UsageError, "task '{}' has no split '{}': {}", kind, split, suggest(split, valid));
}

std::vector<Verdict> Task::score_many(const std::vector<Example>& examples, const std::vector<std::string>& responses,
                                      int parallelism) const {
  T2_CHECK(examples.size() == responses.size(), "score_many: {} examples but {} responses", examples.size(),
           responses.size());
  std::vector<Verdict> out;
  out.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) out.push_back(score(examples[i], responses[i]));
  return out;
}

std::vector<std::string> task_kinds() {
  return {"gsm8k", "math", "mbpp", "humaneval", "arc_easy", "arc_challenge", "cls", "user"};
}

std::unique_ptr<Task> make_task(const std::string& kind, const TaskOptions& opt) {
  for (auto& c : opt.compat) {
    static const std::vector<std::string> known = {compat::gsm8k_regex,   compat::arc_guess,
                                                   compat::arc_raw_keys,  compat::cls_test_data,
                                                   compat::cls_case_sensitive, compat::mbpp_no_sanitize,
                                                   compat::math_tolerance, compat::original};
    T2_CHECK_AS(UsageError, std::find(known.begin(), known.end(), c) != known.end(), "unknown compat switch '{}': {}",
                c, suggest(c, known));
  }
  if (kind == "gsm8k") return make_gsm8k_task(opt);
  if (kind == "math") return make_math_task(opt);
  if (kind == "arc_easy" || kind == "ai2_arc") return make_arc_task(opt, false);
  if (kind == "arc_challenge") return make_arc_task(opt, true);
  if (kind == "mbpp" || kind == "mbpp2") return make_mbpp_task(opt);
  if (kind == "humaneval") return make_humaneval_task(opt);
  if (kind == "cls") return make_cls_task(opt);
  if (kind == "user") return make_user_task(opt);
  T2_FAIL_AS(UsageError, "unknown task '{}': {}", kind, suggest(kind, task_kinds()));
}

std::vector<Verdict> score_batch(const Task& task, const std::vector<Example>& examples,
                                 const std::vector<std::string>& responses, int parallelism) {
  return task.score_many(examples, responses, std::max(1, parallelism));
}

}  // namespace t2::tasks
