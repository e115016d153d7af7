// Scoring saved responses: the engine of `t2 score`, usable on other systems' outputs.
// A responses file is JSON Lines, one {"id": ..., "response": "..."} per line; ids are those of
// the data set (GSM8K/MATH/ARC: the example id or its position, code tasks: task_id).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/task.h"

namespace t2::tasks {

struct ScoredExample {
  std::string id;
  std::string response;
  Verdict verdict;
};

struct ScoreReport {
  std::string task, split, metric;
  size_t examples = 0;  // in the data set (split or file)
  size_t scored = 0;    // with a response
  size_t correct = 0;
  std::string sandbox;  // code tasks: the sandbox's isolation (SandboxInfo::describe), else empty
  double accuracy() const { return scored ? double(correct) / double(scored) : 0.0; }
  std::string sympy;  // MATH: "available", or why not (undecided pairs then count wrong); else ""
  std::vector<ScoredExample> items;  // in data-set order
  nlohmann::json to_json() const;
  std::string to_text() const;  // one line per example, then the accuracy line
};

// Reads the responses file and matches each line to an example by id (string compare with
// Example::id; numbers compared by their decimal text); never by position. FormatError names the
// file and line of a bad, unknown or duplicate entry.
std::vector<std::pair<size_t, std::string>> read_responses(const std::string& path,
                                                           const std::vector<Example>& examples);

// Scores every response (code tasks `parallelism` programs at a time).
ScoreReport score_responses(const Task& task, const std::vector<Example>& examples,
                            const std::vector<std::pair<size_t, std::string>>& responses,
                            int parallelism = 2);

}  // namespace t2::tasks
