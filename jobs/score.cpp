#include "jobs/score.h"

#include <algorithm>
#include <map>

#include "core/check.h"
#include "jobs/jsonl.h"
#include "jobs/math-sympy.h"

namespace t2::tasks {

nlohmann::json ScoreReport::to_json() const {
  nlohmann::json j = {{"task", task},       {"split", split},       {"metric", metric},
                      {"examples", examples}, {"scored", scored},   {"correct", correct},
                      {"accuracy", accuracy()}};
  if (!sandbox.empty()) j["sandbox"] = sandbox;
  if (!sympy.empty()) j["sympy"] = sympy;
  j["verdicts"] = nlohmann::json::array();
  for (auto& it : items) {
    auto v = it.verdict.to_json();
    v["id"] = it.id;
    j["verdicts"].push_back(std::move(v));
  }
  return j;
}

std::string ScoreReport::to_text() const {
  std::string s;
  for (auto& it : items) {
    const auto& v = it.verdict;
    std::string extracted = v.extracted;
    for (auto& c : extracted)
      if (c == '\n' || c == '\t') c = ' ';
    if (extracted.size() > 60) extracted = extracted.substr(0, 57) + "...";
    s += fmt::format("{}\t{}\t{}\n", it.id, v.correct ? "correct" : v.parsed ? "wrong" : "unparsed", extracted);
  }
  s += fmt::format("{} {}: {:.4f} ({}/{})", task, metric, accuracy(), correct, scored);
  if (scored < examples) s += fmt::format(", {} of {} examples had no response", examples - scored, examples);
  s += "\n";
  if (!sandbox.empty()) s += "code sandbox: " + sandbox + "\n";
  if (!sympy.empty() && sympy != "available") s += "sympy " + sympy + "\n";
  return s;
}

std::vector<std::pair<size_t, std::string>> read_responses(const std::string& path,
                                                           const std::vector<Example>& examples) {
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < examples.size(); ++i) by_id.emplace(examples[i].id, i);
  std::vector<std::pair<size_t, std::string>> out;
  std::map<size_t, size_t> seen;  // example -> line
  for (auto& r : read_records(path)) {
    const auto& idv = require_field(r, "id");
    T2_CHECK_AS(FormatError, idv.is_string() || idv.is_number_integer(),
                "{}: 'id' must be a string or an integer, got {}", r.where(), idv.type_name());
    std::string id = idv.is_string() ? idv.get<std::string>() : idv.dump();
    const std::string& response = require_string(r, "response");
    // ids only: a position would silently score a response against another question
    auto it = by_id.find(id);
    T2_CHECK_AS(FormatError, it != by_id.end(), "{}: id {} names no example of the data set ({} examples, ids like '{}')",
                r.where(), idv.dump(), examples.size(), examples.empty() ? "" : examples.front().id);
    size_t ix = it->second;
    auto [prev, fresh] = seen.emplace(ix, r.line);
    T2_CHECK_AS(FormatError, fresh, "{}: a second response for example '{}' (the first is on line {})", r.where(),
                examples[ix].id, prev->second);
    out.emplace_back(ix, response);
  }
  return out;
}

ScoreReport score_responses(const Task& task, const std::vector<Example>& examples,
                            const std::vector<std::pair<size_t, std::string>>& responses, int parallelism) {
  std::vector<std::pair<size_t, std::string>> sorted = responses;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<Example> ex;
  std::vector<std::string> resp;
  for (auto& [i, r] : sorted) {
    T2_CHECK(i < examples.size(), "score_responses: example index {} out of range", i);
    ex.push_back(examples[i]);
    resp.push_back(r);
  }
  auto verdicts = score_batch(task, ex, resp, parallelism);
  ScoreReport rep;
  rep.task = task.kind();
  rep.metric = task.metric();
  rep.examples = examples.size();
  rep.scored = verdicts.size();
  if (task.kind() == "math") {
    // the same sandbox the MATH task runs its sympy pairs in (jobs/task-math.cpp)
    SandboxOptions sb = task.options().sandbox;
    sb.python = task.options().python;
    rep.sympy = !task.options().use_sympy        ? "off"
                : sympy_status(sb).empty() ? "available"
                                           : "missing (undecided pairs count wrong): " + sympy_status(sb);
  }
  for (size_t k = 0; k < verdicts.size(); ++k) {
    rep.correct += verdicts[k].correct;
    rep.items.push_back({ex[k].id, resp[k], verdicts[k]});
  }
  return rep;
}

}  // namespace t2::tasks
