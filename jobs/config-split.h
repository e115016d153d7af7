// Split rules: which records of a task's data file form its train / valid / test split.
// A rule is a data key followed by stages separated by '|', each stage mapping a list of record
// indices to a sub-list:
//
//   train|even                          even positions of the `train` file (GSM8K, ARC: METHOD.md §4.3)
//   problems|first:300|shuffle:16|first:200   MBPP training split
//   pool|mod:5:0,1,2,3|odd              the classifier task's validation part
//
// Stages: all, even, odd, first:N, last:N, range:A:B (positions A..B-1), mod:K:R[,R...] (positions
// whose index mod K is one of R), shuffle:SEED (Python's random.Random(SEED).shuffle, so seeds of
// the reference code give the same permutation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

struct SplitStage {
  std::string op;              // all | even | odd | first | last | range | mod | shuffle
  std::vector<int64_t> args;
};

struct SplitRule {
  std::string source;          // data key
  std::vector<SplitStage> stages;
  std::string text() const;    // canonical form
};

// Parses a rule; on failure returns false and sets `error` to "stage 'x' ...; expected ...".
bool parse_split_rule(const std::string& text, SplitRule& out, std::string& error);

// Applies the stages to the records 0..n-1 and returns the selected record indices in order.
std::vector<int64_t> apply_split(const SplitRule& rule, int64_t n);

// Python-compatible shuffle: the permutation random.Random(seed).shuffle(list(range(n))) produces.
std::vector<int64_t> python_shuffle(std::vector<int64_t> items, uint64_t seed);

}  // namespace t2
