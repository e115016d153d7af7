// User-defined tasks: JSONL records, a prompt template and a scorer. The keys (jobs/user-task-spec.h,
// docs/tasks.md) are the same in a campaign's `kind: user` task and in the file of
// `t2 score user --spec FILE`:
//
//   name: capitals                                   # file only
//   files: {test: capitals.jsonl, train: capitals-train.jsonl}   # file only; relative to the file
//   system_prompt: "Answer with the city only."      # optional
//   prompt: "What is the capital of {country}?"      # {field} of the record; {options} for choices
//   prefill: ""                                      # optional assistant prefill
//   answer_field: capital
//   id_field: id                                     # optional; default: the line index
//   scorer: exact            # exact | numeric | regex | multiple_choice | code
//   extract: "answer is (\\w+)"   # optional regex (exact, numeric): the last match, group 1
//   case_sensitive: false    # exact
//   tolerance: 1e-6          # numeric, relative
//   choices_field: options   # multiple_choice: list of option strings, lettered A, B, ...
//   max_new_tokens: 512
//   stop: ["\n\n"]         # optional stop strings
//   chat_template: model_default   # or code_prompt
//
// `regex`: the answer field holds a regular expression that must occur in the response.
// `code`: the answer field holds a list of test statements (or one string of test code) run after
// the response's code (the first fenced block, or the text before a fence when prefilled).
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "core/names.h"
#include "jobs/answer-choice.h"
#include "jobs/answer-code.h"
#include "jobs/answer-number.h"
#include "jobs/answer-regex.h"
#include "jobs/sandbox-harness.h"
#include "jobs/task-kinds.h"
#include "jobs/user-task-spec.h"

namespace t2::tasks {

namespace {

struct UserSpec {
  std::string file, name, system, prompt, prefill, answer_field, id_field, scorer, extract, choices_field;
  std::string chat_template = "model_default";
  std::map<std::string, std::string> files;
  std::vector<std::string> stop;
  bool has_stop = false;
  bool case_sensitive = true;
  double tolerance = 1e-6;
  int max_new_tokens = 512;
};

// From the checked JSON of jobs/user-task-spec.h (a campaign's task or a spec file).
UserSpec spec_from(const nlohmann::json& j, const std::string& label) {
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  UserSpec s;
  s.file = label;
  s.name = str("name"), s.system = str("system_prompt"), s.prompt = str("prompt"), s.prefill = str("prefill");
  s.answer_field = str("answer_field"), s.id_field = str("id_field"), s.scorer = str("scorer");
  s.extract = str("extract"), s.choices_field = str("choices_field");
  if (!str("chat_template").empty()) s.chat_template = str("chat_template");
  if (j.contains("files") && j["files"].is_object())
    for (auto it = j["files"].begin(); it != j["files"].end(); ++it) s.files[it.key()] = it.value().get<std::string>();
  if (j.contains("stop") && j["stop"].is_array()) s.stop = j["stop"].get<std::vector<std::string>>(), s.has_stop = true;
  if (j.contains("case_sensitive") && j["case_sensitive"].is_boolean()) s.case_sensitive = j["case_sensitive"].get<bool>();
  if (j.contains("tolerance") && j["tolerance"].is_number()) s.tolerance = j["tolerance"].get<double>();
  if (j.contains("max_new_tokens") && j["max_new_tokens"].is_number_integer())
    s.max_new_tokens = j["max_new_tokens"].get<int>();
  if (s.prompt.empty()) s.prompt = "{" + (str("question_field").empty() ? "question" : str("question_field")) + "}";
  if (s.answer_field.empty()) s.answer_field = "answer";
  T2_CHECK_AS(UsageError, !s.scorer.empty(), "{}: user task without a scorer", label);
  return s;
}

UserSpec read_spec(const TaskOptions& opt) {
  if (!opt.user_params.empty()) return spec_from(nlohmann::json::parse(opt.user_params), "user task");
  return spec_from(load_user_task_file(opt.user_spec), opt.user_spec);
}

std::string field_text(const JsonRecord& r, const std::string& key) {
  const auto& v = require_field(r, key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

class UserTask : public Task {
 public:
  explicit UserTask(const TaskOptions& opt) : Task(opt), spec_(read_spec(opt)) {
    if (!spec_.extract.empty()) extract_ = std::make_unique<Regex>(spec_.extract);
  }
  std::string kind() const override { return spec_.name.empty() ? "user" : spec_.name; }
  std::vector<std::string> splits() const override {
    std::vector<std::string> s;
    for (auto& [k, v] : spec_.files) s.push_back(k);
    if (spec_.files.count("train") && !spec_.files.count("validation")) {
      s.push_back("train_all");
    }
    return s;
  }
  int max_new_tokens() const override { return spec_.max_new_tokens; }
  std::vector<std::string> stop_strings() const override { return spec_.has_stop ? spec_.stop : Task::stop_strings(); }
  std::string chat_template() const override { return spec_.chat_template; }
  bool runs_code() const override { return spec_.scorer == "code"; }

  std::vector<Example> load(const std::string& split) const override {
    auto it = spec_.files.find(split == "train_all" ? "train" : split);
    if (it == spec_.files.end()) unknown_split(kind(), split, splits());
    auto all = load_file(opt_.files.count(split) ? opt_.files.at(split) : it->second);
    // without an explicit validation file, train/validation are the even/odd records of train
    if (split == "train" && !spec_.files.count("validation")) return limit(even_positions(all, false));
    return limit(all);
  }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) out.push_back(make_example(recs[i], i));
    return out;
  }

  Verdict score(const Example& ex, const std::string& response) const override {
    Verdict v;
    const auto& gold = ex.gold["answer"];
    if (spec_.scorer == "exact") {
      auto got = extracted(response);
      v.parsed = got.has_value();
      v.extracted = got.value_or("");
      std::string a = trim(v.extracted), b = trim(gold.is_string() ? gold.get<std::string>() : gold.dump());
      if (!spec_.case_sensitive) {
        for (auto& c : a) c = char(std::tolower(static_cast<unsigned char>(c)));
        for (auto& c : b) c = char(std::tolower(static_cast<unsigned char>(c)));
      }
      v.correct = v.parsed && a == b;
    } else if (spec_.scorer == "numeric") {
      auto got = extracted(response);
      auto num = got ? last_number(*got) : std::nullopt;
      v.parsed = num.has_value();
      if (num) v.extracted = num->text;
      auto g = gold.is_number() ? std::optional<double>(gold.get<double>()) : parse_number(gold.get<std::string>());
      v.correct = num && g && numbers_equal(num->value, *g, spec_.tolerance);
    } else if (spec_.scorer == "regex") {
      Regex re(gold.get<std::string>());
      auto m = re.search(response);
      v.parsed = true;
      v.correct = m.has_value();
      if (m) v.extracted = *m->groups[0];
    } else if (spec_.scorer == "multiple_choice") {
      auto letter = extract_choice_letter(response);
      v.parsed = letter.has_value();
      if (letter) v.extracted = std::string(1, *letter);
      v.correct = letter && v.extracted == ex.gold["letter"].get<std::string>();
    } else {  // code
      std::string code = spec_.prefill.empty() ? first_code_block(response) : completion_before_fence(response);
      v.parsed = trim(code).size() > 0;
      if (v.parsed) {
        CodeProgram p;
        p.solution = code;
        if (gold.is_array())
          for (auto& t : gold) p.tests.push_back(t.is_string() ? t.get<std::string>() : t.dump());
        else
          p.tests.push_back(gold.is_string() ? gold.get<std::string>() : gold.dump());
        p.test_limits.assign(p.tests.size(), opt_.test_seconds);
        p.solution_limit = opt_.test_seconds;
        std::call_once(once_, [&] { sandbox_ = std::make_unique<Sandbox>(opt_.sandbox); });
        auto o = run_code_program(*sandbox_, p);
        v.correct = o.passed;
        v.extracted = o.status;
        v.detail = o.error + "; ";
      }
    }
    v.detail += "gold " + (gold.is_string() ? gold.get<std::string>() : gold.dump());
    v.reward = reward_for(v.correct, v.parsed);
    return v;
  }

  std::vector<Verdict> score_many(const std::vector<Example>& examples, const std::vector<std::string>& responses,
                                  int parallelism) const override {
    if (!runs_code()) return Task::score_many(examples, responses, parallelism);
    std::vector<Verdict> out(examples.size());
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next.fetch_add(1)) < examples.size();) out[i] = score(examples[i], responses[i]);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < parallelism && size_t(t) < examples.size(); ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    return out;
  }

 private:
  std::optional<std::string> extracted(const std::string& response) const {
    if (!extract_) return response;
    auto all = extract_->find_all(response);
    if (all.empty()) return std::nullopt;
    const auto& m = all.back();
    return m.groups.size() > 1 && m.groups[1] ? *m.groups[1] : *m.groups[0];
  }

  // "{field}" from the record, "{options}" the lettered choices, "{{" / "}}" literal braces.
  std::string render(const std::string& tmpl, const JsonRecord& r, const std::string& options) const {
    std::string out;
    for (size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl.compare(i, 2, "{{") == 0) { out += '{'; ++i; continue; }
      if (tmpl.compare(i, 2, "}}") == 0) { out += '}'; ++i; continue; }
      if (tmpl[i] == '{') {
        size_t e = tmpl.find('}', i);
        T2_CHECK_AS(FormatError, e != std::string::npos, "{}: unclosed '{{' in the prompt template", spec_.file);
        std::string key = tmpl.substr(i + 1, e - i - 1);
        out += key == "options" ? options : field_text(r, key);
        i = e;
        continue;
      }
      out += tmpl[i];
    }
    return out;
  }

  Example make_example(const JsonRecord& r, size_t i) const {
    Example ex;
    ex.index = i;
    ex.source = r.where();
    ex.id = spec_.id_field.empty() ? std::to_string(i) : field_text(r, spec_.id_field);
    std::string options;
    nlohmann::json gold = {{"answer", require_field(r, spec_.answer_field)}};
    if (spec_.scorer == "multiple_choice") {
      const auto& choices = require_array(r, spec_.choices_field);
      for (size_t k = 0; k < choices.size(); ++k)
        options += std::string(1, char('A' + k)) + ". " + (choices[k].is_string() ? choices[k].get<std::string>()
                                                                                   : choices[k].dump()) + "\n";
      // the gold may be a letter, a 0-based index or the option's text
      const auto& a = gold["answer"];
      std::string letter;
      if (a.is_number_integer() && a.get<long>() >= 0 && size_t(a.get<long>()) < choices.size())
        letter = std::string(1, char('A' + a.get<long>()));
      else if (a.is_string() && a.get<std::string>().size() == 1 && a.get<std::string>()[0] >= 'A' &&
               size_t(a.get<std::string>()[0] - 'A') < choices.size())
        letter = a.get<std::string>();
      else
        for (size_t k = 0; k < choices.size(); ++k)
          if (choices[k] == a) letter = std::string(1, char('A' + k));
      T2_CHECK_AS(FormatError, !letter.empty(), "{}: answer {} is not a letter, index or text of the {} options",
                  r.where(), a.dump(), choices.size());
      gold["letter"] = letter;
    }
    std::string user = render(spec_.prompt, r, options);
    if (!spec_.system.empty()) ex.messages.push_back({"system", spec_.system});
    ex.messages.push_back({"user", user});
    ex.assistant_prefill = spec_.prefill;
    ex.question = user;
    ex.gold = gold;
    return ex;
  }

  UserSpec spec_;
  std::unique_ptr<Regex> extract_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<Sandbox> sandbox_;
};

}  // namespace

std::unique_ptr<Task> make_user_task(const TaskOptions& opt) { return std::make_unique<UserTask>(opt); }

}  // namespace t2::tasks
