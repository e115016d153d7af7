// GSM8K (METHOD.md §5.1): plain Llama-3 template, the Alpaca-style system prompt, the question as
// the user turn; the answer is the number the response marks (answer-number.h), else its last number.
#include <cmath>

#include "core/check.h"
#include "jobs/answer-number.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

Example gsm8k_example(const JsonRecord& r, const std::string& id) {
  Example ex;
  ex.id = id;
  ex.index = r.line ? r.line - 1 : 0;
  ex.source = r.where();
  ex.question = require_string(r, "question");
  std::string answer = require_string(r, "answer");
  ex.messages = {{"system", prompts::gsm8k_system}, {"user", ex.question}};
  std::string gold_text = gsm8k_gold_text(answer);
  auto gold = parse_number(gold_text);
  T2_CHECK_AS(FormatError, gold.has_value(), "{}: GSM8K answer must end with '#### <number>', got '{}'", r.where(),
              gold_text);
  ex.gold = {{"answer", gold_text}, {"value", *gold}, {"solution", answer}};
  return ex;
}

namespace {

class Gsm8kTask : public Task {
 public:
  using Task::Task;
  std::string kind() const override { return "gsm8k"; }
  std::vector<std::string> splits() const override { return {"train", "validation", "test", "train_all"}; }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) {
      auto ex = gsm8k_example(recs[i], std::to_string(i));
      ex.index = i;
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    if (split == "test") return limit(load_file(opt_.data_file("test", "gsm8k/test.jsonl")));
    auto all = load_file(opt_.data_file("train", "gsm8k/train.jsonl"));
    if (split == "train_all") return limit(all);
    if (split == "train") return limit(even_positions(all, false));
    if (split == "validation") return limit(even_positions(all, true));
    unknown_split(kind(), split, splits());
  }

  Verdict score(const Example& ex, const std::string& response) const override {
    Verdict v;
    if (opt_.has_compat(compat::gsm8k_regex)) {
      // reference: float(last `\d*\.?\d+` of the output) == int(last match in the gold answer)
      auto pred = last_number_original(response);
      auto gold = last_number_original(ex.gold["answer"].get<std::string>());
      v.parsed = pred.has_value();
      if (pred) v.extracted = pred->text;
      v.correct = pred && gold && pred->value == std::trunc(gold->value);
      v.detail = fmt::format("compat gsm8k_regex: gold {}", gold ? std::trunc(gold->value) : NAN);
    } else {
      std::string how;
      auto pred = gsm8k_answer(response, &how);
      double gold = ex.gold["value"].get<double>();
      v.parsed = pred.has_value();
      if (pred) v.extracted = pred->text;
      v.correct = pred && numbers_equal(pred->value, gold);
      v.detail = fmt::format("gold {} (answer by {})", ex.gold["answer"].get<std::string>(), how);
    }
    v.reward = reward_for(v.correct, v.parsed);
    return v;
  }
};

}  // namespace

std::unique_ptr<Task> make_gsm8k_task(const TaskOptions& opt) { return std::make_unique<Gsm8kTask>(opt); }

}  // namespace t2::tasks
