// The text a model is trained to produce for an example under the next-token objective (the paper's
// LoRA, Table 4 row 4's SVF): the continuation after the rendered prompt and its assistant prefill.
//
//   a record's "target" field     when the data file carries one (any kind; the quickstart's data does)
//   gsm8k, math                   the reference solution (working, then "#### N" / \boxed{...})
//   arc_easy, arc_challenge       ".\nThe answer is X." after the prefill "Let's think step by step"
//   humaneval                     the canonical body after the prompt, then the closing fence
//   mbpp                          the reference program, then the closing fence
//   cls                           "\boxed{label}"
//   user                          the answer field
// Torch-free.
#pragma once

#include <string>

#include "jobs/task.h"

namespace t2::tasks {

// UsageError naming the task kind when an example has no solution to train on.
std::string next_token_target(const Task& task, const Example& ex);

}  // namespace t2::tasks
