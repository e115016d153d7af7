// MATH (METHOD.md §5.2): plain Llama-3 template, the "\boxed{}" system prompt; gold is the last boxed
// expression of the reference solution; equivalence per math-equal.h, with sympy for what C++ cannot
// decide (batched in score_many; one helper process per call of `score` otherwise).
#include "core/check.h"
#include "jobs/math-equal.h"
#include "jobs/math-extract.h"
#include "jobs/math-sympy.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

namespace {

class MathTask : public Task {
 public:
  using Task::Task;
  std::string kind() const override { return "math"; }
  std::vector<std::string> splits() const override { return {"test"}; }
  int max_new_tokens() const override { return 1024; }
  int max_model_len() const override { return 2048; }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) {
      const auto& r = recs[i];
      Example ex;
      ex.index = i;
      ex.source = r.where();
      ex.id = optional_string(r, "unique_id", std::to_string(i));
      ex.question = require_string(r, "problem");
      const std::string& solution = require_string(r, "solution");
      auto gold = last_boxed_content(solution);
      T2_CHECK_AS(FormatError, gold.has_value(), "{}: MATH solution has no \\boxed{{...}} answer", r.where());
      ex.messages = {{"system", prompts::math_system}, {"user", ex.question}};
      ex.gold = {{"answer", *gold}, {"solution", solution}};
      if (r.value.contains("level")) ex.gold["level"] = r.value["level"];
      if (r.value.contains("subject")) ex.gold["subject"] = r.value["subject"];
      if (r.value.contains("type")) ex.gold["subject"] = r.value["type"];
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    if (split == "test") return limit(load_file(opt_.data_file("test", "math/math500_test.jsonl")));
    unknown_split(kind(), split, splits());
  }

  Verdict score(const Example& ex, const std::string& response) const override {
    return score_many({ex}, {response}, 1)[0];
  }

  std::vector<Verdict> score_many(const std::vector<Example>& examples, const std::vector<std::string>& responses,
                                  int) const override {
    T2_CHECK(examples.size() == responses.size(), "score_many: {} examples but {} responses", examples.size(),
             responses.size());
    std::vector<Verdict> out(examples.size());
    std::vector<SympyPair> pending;
    std::vector<size_t> pending_ix;
    for (size_t i = 0; i < examples.size(); ++i) {
      auto pred = extract_math_answer(responses[i], reference_rules());
      std::optional<std::string> gold = examples[i].gold["answer"].get<std::string>();
      auto mv = math_is_equiv(pred, gold, rel(), reference_rules());
      Verdict& v = out[i];
      v.parsed = pred.has_value();
      v.extracted = pred.value_or("");
      v.correct = mv.result == MathEquivalence::equal;
      v.detail = fmt::format("normalised '{}' vs gold '{}' ({})", mv.pred_norm, mv.ref_norm, mv.how);
      if (mv.result == MathEquivalence::unknown && opt_.use_sympy) {
        pending.push_back({mv.pred_norm, mv.ref_norm});
        pending_ix.push_back(i);
      }
    }
    if (!pending.empty()) {
      SandboxOptions sb = opt_.sandbox;
      sb.python = opt_.python;
      auto res = sympy_equal_batch(pending, sb, Seconds(5), rel());
      const std::string& why = sympy_status(sb);
      for (size_t k = 0; k < pending.size(); ++k) {
        Verdict& v = out[pending_ix[k]];
        v.correct = res[k] == MathEquivalence::equal;
        v.detail += why.empty() ? (res[k] == MathEquivalence::equal ? "; sympy: equal"
                                   : res[k] == MathEquivalence::different ? "; sympy: different"
                                                                          : "; sympy: undecided")
                                : "; sympy unavailable: " + why;
      }
    }
    for (auto& v : out) v.reward = reward_for(v.correct, v.parsed);
    return out;
  }

 private:
  bool reference_rules() const { return opt_.has_compat(compat::math_tolerance); }
  double rel() const { return reference_rules() ? kMathReferenceRel : kMathSymbolicRel; }
};

}  // namespace

std::unique_ptr<Task> make_math_task(const TaskOptions& opt) { return std::make_unique<MathTask>(opt); }

}  // namespace t2::tasks
