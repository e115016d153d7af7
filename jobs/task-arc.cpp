// ARC-Easy / ARC-Challenge (METHOD.md §5.3): options lettered A-E by position, the multiple-choice
// system prompt, the Llama-3 CoT prefill; the extraction cascade of answer-choice.h.
#include "core/check.h"
#include "jobs/answer-choice.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

Example arc_example(const JsonRecord& r, bool raw_keys) {
  Example ex;
  ex.index = r.line ? r.line - 1 : 0;
  ex.source = r.where();
  ex.id = require_string(r, "id");
  const std::string& question = require_string(r, "question");
  const auto& choices = require_field(r, "choices");
  T2_CHECK_AS(FormatError, choices.is_object() && choices.contains("text") && choices.contains("label") &&
                               choices["text"].is_array() && choices["label"].is_array() &&
                               choices["text"].size() == choices["label"].size() && !choices["text"].empty(),
              "{}: 'choices' must be {{\"text\": [...], \"label\": [...]}} with equal, non-empty lists", r.where());
  T2_CHECK_AS(FormatError, choices["text"].size() <= 10, "{}: at most 10 options (A-J), got {}", r.where(),
              choices["text"].size());
  std::vector<std::string> labels, texts;
  for (size_t i = 0; i < choices["text"].size(); ++i) {
    T2_CHECK_AS(FormatError, choices["text"][i].is_string() && choices["label"][i].is_string(),
                "{}: choices.text[{}] and choices.label[{}] must be strings", r.where(), i, i);
    texts.push_back(choices["text"][i].get<std::string>());
    labels.push_back(choices["label"][i].get<std::string>());
  }
  const std::string& key = require_string(r, "answerKey");
  auto letter = gold_letter(key, labels);
  T2_CHECK_AS(FormatError, letter.has_value(), "{}: answerKey '{}' is not one of the labels", r.where(), key);
  std::string user = question + "\nOptions:\n";
  for (size_t i = 0; i < texts.size(); ++i) user += std::string(1, char('A' + i)) + ". " + texts[i] + "\n";
  ex.question = user;
  ex.messages = {{"system", prompts::arc_system}, {"user", user}};
  ex.assistant_prefill = prompts::arc_prefill;
  // compat arc_raw_keys: the reference compares with the raw key, so "1".."4" never match a letter
  std::string gold = raw_keys ? key : std::string(1, *letter);
  ex.gold = {{"answer", gold}, {"answer_key", key}, {"n_options", texts.size()}, {"labels", labels}};
  // an optional worked answer to train on (jobs/task-target.h)
  if (r.value.contains("target") && r.value["target"].is_string()) ex.gold["target"] = r.value["target"];
  return ex;
}

namespace {

class ArcTask : public Task {
 public:
  ArcTask(const TaskOptions& opt, bool challenge) : Task(opt), challenge_(challenge) {}
  std::string kind() const override { return challenge_ ? "arc_challenge" : "arc_easy"; }
  std::vector<std::string> splits() const override {
    if (challenge_) return {"train", "validation", "dev", "test"};
    return {"train", "validation", "dev", "test", "transfer"};
  }
  std::string chat_template() const override { return "llama3_cot"; }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    bool raw = opt_.has_compat(compat::arc_raw_keys);
    for (size_t i = 0; i < recs.size(); ++i) {
      auto ex = arc_example(recs[i], raw);
      ex.index = i;
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    std::string set = challenge_ ? "ARC-Challenge" : "ARC-Easy";
    if (split == "test") return limit(load_file(opt_.data_file("test", "arc/" + set + "-Test.jsonl")));
    if (split == "dev") return limit(load_file(opt_.data_file("dev", "arc/" + set + "-Dev.jsonl")));
    if (split == "transfer" && !challenge_)
      return limit(load_file(opt_.data_file("transfer", "arc/ARC-Challenge-Test.jsonl")));
    if (split == "train" || split == "validation") {
      auto all = load_file(opt_.data_file("train", "arc/" + set + "-Train.jsonl"));
      return limit(even_positions(all, split == "validation"));
    }
    unknown_split(kind(), split, splits());
  }

  Verdict score(const Example& ex, const std::string& response) const override {
    Verdict v;
    size_t n = ex.gold["n_options"].get<size_t>();
    // compat arc_guess: the reference's cascade (letters need no word boundary) and its guess
    auto letter = opt_.has_compat(compat::arc_guess) ? extract_choice_letter(response) : choice_answer(response, n);
    v.parsed = letter.has_value();
    std::string gold = ex.gold["answer"].get<std::string>();
    if (letter) {
      v.extracted = std::string(1, *letter);
    } else if (opt_.has_compat(compat::arc_guess)) {
      v.extracted = std::string(1, reference_guess_letter(n));
      v.detail = "no letter found; compat arc_guess: the reference's fixed guess; ";
    }
    v.correct = !v.extracted.empty() && v.extracted == gold;
    v.detail += "gold " + gold;
    v.reward = reward_for(v.correct, v.parsed);
    return v;
  }

 private:
  bool challenge_;
};

}  // namespace

std::unique_ptr<Task> make_arc_task(const TaskOptions& opt, bool challenge) {
  return std::make_unique<ArcTask>(opt, challenge);
}

}  // namespace t2::tasks
