// Internal: constructors of the built-in task kinds (one source file each) and shared helpers.
#pragma once

#include <memory>

#include "jobs/jsonl.h"
#include "jobs/task.h"

namespace t2::tasks {

std::unique_ptr<Task> make_gsm8k_task(const TaskOptions& opt);
std::unique_ptr<Task> make_math_task(const TaskOptions& opt);
std::unique_ptr<Task> make_arc_task(const TaskOptions& opt, bool challenge);
std::unique_ptr<Task> make_mbpp_task(const TaskOptions& opt);
std::unique_ptr<Task> make_humaneval_task(const TaskOptions& opt);
std::unique_ptr<Task> make_cls_task(const TaskOptions& opt);
std::unique_ptr<Task> make_user_task(const TaskOptions& opt);

// Even / odd positions of `v` (METHOD.md §4.3: train_ix / valid_ix).
template <typename T>
std::vector<T> even_positions(const std::vector<T>& v, bool odd) {
  std::vector<T> out;
  for (size_t i = odd ? 1 : 0; i < v.size(); i += 2) out.push_back(v[i]);
  return out;
}

[[noreturn]] void unknown_split(const std::string& kind, const std::string& split,
                                const std::vector<std::string>& valid);

// Builders shared by tasks and by the classifier's data.
Example gsm8k_example(const JsonRecord& r, const std::string& id);
Example arc_example(const JsonRecord& r, bool raw_keys);
Example mbpp_example(const JsonRecord& r);
Example humaneval_example(const JsonRecord& r);

}  // namespace t2::tasks
