// The dispatch classifier task `cls` (METHOD.md §6.2): questions from GSM8K (label math), MBPP
// (code) and ARC-Challenge (reasoning), the first `cls_per_source` of each, concatenated, split 4:1
// by index % 5 (< 4: train part, else test), the train part split even/odd into train/validation.
// Default data: the train files of the three sets (clean). compat `cls_test_data`: the reference's
// test files (GSM8K test, the MBPP problems file, ARC-Challenge test), which puts evaluation
// questions into the classifier's training data.
#include <cctype>

#include "core/check.h"
#include "jobs/answer-regex.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

std::string dispatch_label(const std::string& response, bool case_sensitive) {
  static const Regex boxed(R"(\\boxed\{([^}]*)\})");
  auto m = boxed.search(response);
  if (!m || !m->groups[1]) return "other";
  std::string label = *m->groups[1];
  if (!case_sensitive) {
    size_t a = label.find_first_not_of(" \t\r\n"), b = label.find_last_not_of(" \t\r\n");
    label = a == std::string::npos ? "" : label.substr(a, b - a + 1);
    for (auto& c : label) c = char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (label == "code" || label == "math" || label == "reasoning") return label;
  return "other";
}

Example dispatch_example(const Example& ex) {
  Example d;
  d.id = ex.id;
  d.index = ex.index;
  d.source = ex.source;
  d.question = ex.question;
  d.messages = {{"system", prompts::classify_system}, {"user", ex.question}};
  return d;
}

Example first_pass_example(const Task& evaluated, const Example& ex) {
  Example d = dispatch_example(ex);
  if (evaluated.chat_template() == "llama3_cot") d.assistant_prefill = ex.assistant_prefill;
  return d;
}

namespace {

class ClsTask : public Task {
 public:
  using Task::Task;
  std::string kind() const override { return "cls"; }
  std::vector<std::string> splits() const override { return {"train", "validation", "test", "all"}; }
  int max_new_tokens() const override { return 1024; }
  int max_model_len() const override { return 2048; }

  std::vector<Example> build() const {
    bool ref = opt_.has_compat(compat::cls_test_data);
    std::vector<Example> all;
    auto take = [&](std::vector<Example> v, const std::string& label) {
      size_t n = std::min(v.size(), opt_.cls_per_source);
      for (size_t i = 0; i < n; ++i) {
        Example d = dispatch_example(v[i]);
        d.id = label + "/" + v[i].id;
        d.gold = {{"answer", label}, {"origin", v[i].id}};
        all.push_back(std::move(d));
      }
    };
    {
      auto recs = read_records(opt_.data_file("gsm8k", ref ? "gsm8k/test.jsonl" : "gsm8k/train.jsonl"));
      std::vector<Example> v;
      for (size_t i = 0; i < recs.size() && i < opt_.cls_per_source; ++i)
        v.push_back(gsm8k_example(recs[i], std::to_string(i)));
      take(std::move(v), "math");
    }
    {
      auto recs = read_records(opt_.data_file("mbpp", ref ? "mbpp/sanitized-mbpp.json" : "mbpp/mbpp.jsonl"));
      std::vector<Example> v;
      for (auto& r : recs) {
        auto ex = mbpp_example(r);
        // clean default: only the MBPP README's train ids (601-974), never an evaluated problem
        if (!ref) {
          int id = std::atoi(ex.id.c_str());
          if (id < 601) continue;
        }
        v.push_back(std::move(ex));
      }
      take(std::move(v), "code");
    }
    {
      auto recs = read_records(
          opt_.data_file("arc", ref ? "arc/ARC-Challenge-Test.jsonl" : "arc/ARC-Challenge-Train.jsonl"));
      std::vector<Example> v;
      for (size_t i = 0; i < recs.size() && i < opt_.cls_per_source; ++i) v.push_back(arc_example(recs[i], false));
      take(std::move(v), "reasoning");
    }
    for (size_t i = 0; i < all.size(); ++i) all[i].index = i;
    return all;
  }

  std::vector<Example> load_file(const std::string& path) const override {
    // a file of {"question": ..., "label": ...} records (e.g. a saved classifier data set)
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) {
      Example d;
      d.index = i;
      d.source = recs[i].where();
      d.id = recs[i].value.contains("id") ? recs[i].value["id"].dump() : std::to_string(i);
      if (recs[i].value.contains("id") && recs[i].value["id"].is_string()) d.id = recs[i].value["id"].get<std::string>();
      d.question = require_string(recs[i], "question");
      d.messages = {{"system", prompts::classify_system}, {"user", d.question}};
      d.gold = {{"answer", require_string(recs[i], "label")}};
      out.push_back(std::move(d));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    auto all = build();
    if (split == "all") return limit(all);
    std::vector<Example> train_part, test_part;
    for (size_t i = 0; i < all.size(); ++i) (i % 5 < 4 ? train_part : test_part).push_back(all[i]);
    if (split == "test") return limit(test_part);
    if (split == "train") return limit(even_positions(train_part, false));
    if (split == "validation") return limit(even_positions(train_part, true));
    unknown_split(kind(), split, splits());
  }

  Verdict score(const Example& ex, const std::string& response) const override {
    Verdict v;
    bool cs = opt_.has_compat(compat::cls_case_sensitive);
    static const Regex boxed(R"(\\boxed\{([^}]*)\})");
    v.parsed = boxed.search(response).has_value();
    v.extracted = dispatch_label(response, cs);
    v.correct = v.extracted == ex.gold["answer"].get<std::string>();
    v.detail = "gold " + ex.gold["answer"].get<std::string>();
    v.reward = reward_for(v.correct, v.parsed);
    return v;
  }
};

}  // namespace

std::unique_ptr<Task> make_cls_task(const TaskOptions& opt) { return std::make_unique<ClsTask>(opt); }

}  // namespace t2::tasks
