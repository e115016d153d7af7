// Collects every problem found while loading a campaign, then throws them together. Each problem
// prints as one line:
//
//   FILE:LINE:COL: key.path: what is wrong; expected ...
//   <override N>: key.path: what is wrong; expected ...      (a value given on the command line)
//
// Validation never stops at the first problem; the caller throws once at the end.
#pragma once

#include <string>
#include <vector>

#include "jobs/yaml-tree.h"

namespace t2 {

struct ConfigProblem {
  yaml::Origin origin;
  std::string key_path;
  std::string what;      // "unknown key 'lrr'"
  std::string expected;  // "did you mean 'lr'? valid: ..." or "expected ..." (may be empty)
};

class ConfigProblems {
 public:
  explicit ConfigProblems(std::string file) : file_(std::move(file)) {}

  void add(const yaml::Origin& at, const std::string& key_path, const std::string& what,
           const std::string& expected = "");
  bool empty() const { return problems_.empty(); }
  size_t size() const { return problems_.size(); }
  const std::vector<ConfigProblem>& all() const { return problems_; }

  // One line per problem, file problems sorted by position, then override problems by index.
  std::vector<std::string> lines() const;
  // Throws t2::UsageError with all lines joined by '\n' when there is any problem.
  void throw_if_any() const;

  const std::string& file() const { return file_; }
  std::string where(const yaml::Origin& o) const;  // "FILE:LINE:COL" or "<override N>"

 private:
  std::string file_;
  std::vector<ConfigProblem> problems_;
};

}  // namespace t2
