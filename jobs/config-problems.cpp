#include "jobs/config-problems.h"

#include <algorithm>
#include <tuple>

#include "core/error.h"
#include "core/names.h"

namespace t2 {

void ConfigProblems::add(const yaml::Origin& at, const std::string& key_path, const std::string& what,
                         const std::string& expected) {
  problems_.push_back({at, key_path, what, expected});
}

std::string ConfigProblems::where(const yaml::Origin& o) const {
  if (o.override_index) return "<override " + std::to_string(o.override_index) + ">";
  return file_ + ":" + std::to_string(o.line) + ":" + std::to_string(o.col);
}

std::vector<std::string> ConfigProblems::lines() const {
  std::vector<ConfigProblem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    auto key = [](const ConfigProblem& p) {
      return std::make_tuple(p.origin.override_index, p.origin.line, p.origin.col);
    };
    return key(a) < key(b);
  });
  std::vector<std::string> out;
  for (const auto& p : sorted) {
    std::string line = where(p.origin) + ": " + (p.key_path.empty() ? "(top level)" : p.key_path) + ": " + p.what;
    if (!p.expected.empty()) line += "; " + p.expected;
    if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
  }
  return out;
}

void ConfigProblems::throw_if_any() const {
  if (problems_.empty()) return;
  throw UsageError(join(lines(), "\n"));
}

}  // namespace t2
