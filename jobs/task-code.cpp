// MBPP and HumanEval (METHOD.md §5.4): the CODE_PROMPT template, the coding-assistant system prompt,
// a "```python" prefill; the completion is the text before the first fence, sanitised for MBPP,
// prefixed by the problem prompt for HumanEval, and run against the base tests in the sandbox.
#include <atomic>
#include <mutex>
#include <map>
#include <thread>

#include "core/check.h"
#include "jobs/answer-code.h"
#include "jobs/dataset-shuffle.h"
#include "jobs/sandbox-harness.h"
#include "jobs/task-kinds.h"

namespace t2::tasks {

namespace {

std::string strip(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string mbpp_instruction(std::string desc, const std::string& assertion) {
  desc = strip(desc);
  if (!desc.empty() && desc.back() != '.') desc += '.';
  return desc + " Your code should satisfy the following assertion:\n```python\n" + strip(assertion) + "\n```";
}

std::string id_string(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Example mbpp_example(const JsonRecord& r) {
  Example ex;
  ex.index = r.line ? r.line - 1 : 0;
  ex.source = r.where();
  ex.id = id_string(require_field(r, "task_id"));
  nlohmann::json gold;
  std::string desc, assertion;
  if (r.value.contains("base_input") || (r.value.contains("canonical_solution") && r.value.contains("entry_point"))) {
    // MBPP+ (evalplus): prompt is a docstring holding the description and one assertion
    std::string doc = require_string(r, "prompt");
    doc = strip(doc);
    if (doc.rfind("\"\"\"", 0) == 0) doc = doc.substr(3);
    if (doc.size() >= 3 && doc.compare(doc.size() - 3, 3, "\"\"\"") == 0) doc = doc.substr(0, doc.size() - 3);
    size_t a = doc.find("assert");
    desc = a == std::string::npos ? doc : doc.substr(0, a);
    assertion = a == std::string::npos ? "" : doc.substr(a);
    gold["entry_point"] = require_string(r, "entry_point");
    gold["reference"] = require_string(r, "canonical_solution");
    gold["inputs"] = r.value.contains("base_input") ? r.value["base_input"] : nlohmann::json::array();
    T2_CHECK_AS(FormatError, gold["inputs"].is_array(), "{}: 'base_input' must be a list of argument lists", r.where());
    for (auto& inp : gold["inputs"])
      T2_CHECK_AS(FormatError, inp.is_array(), "{}: every base_input entry must be a list of arguments", r.where());
    gold["atol"] = r.value.value("atol", 0.0);
    gold["tests"] = nlohmann::json::array();
    gold["setup"] = "";
  } else {
    const auto& tests = require_array(r, "test_list");
    T2_CHECK_AS(FormatError, !tests.empty(), "{}: 'test_list' is empty", r.where());
    for (auto& t : tests) T2_CHECK_AS(FormatError, t.is_string(), "{}: 'test_list' must hold strings", r.where());
    std::string code = require_string(r, "code");
    assertion = tests[0].get<std::string>();
    gold["tests"] = tests;
    if (r.value.contains("text")) {  // original mbpp.jsonl
      desc = require_string(r, "text");
      gold["setup"] = "";
      // test_setup_code builds the tests' inputs from the solution's classes: it runs after the
      // solution, as the first test (as in MBPP's own evaluation: code, setup, asserts)
      std::string setup = optional_string(r, "test_setup_code");
      if (setup.find_first_not_of(" \t\r\n") != std::string::npos) gold["tests"].insert(gold["tests"].begin(), setup);
    } else {  // sanitized-mbpp.json
      desc = require_string(r, "prompt");
      std::string setup;
      if (r.value.contains("test_imports"))
        for (auto& i : require_array(r, "test_imports")) setup += i.get<std::string>() + "\n";
      gold["setup"] = setup;
    }
    gold["reference"] = code;
    gold["entry_point"] = mbpp_entry_point(code, assertion);
    gold["inputs"] = nlohmann::json::array();
    gold["atol"] = 0.0;
  }
  ex.question = mbpp_instruction(desc, assertion);
  ex.messages = {{"system", prompts::code_system}, {"user", ex.question}};
  ex.assistant_prefill = prompts::code_prefill;
  gold["kind"] = "mbpp";
  ex.gold = gold;
  return ex;
}

Example humaneval_example(const JsonRecord& r) {
  Example ex;
  ex.index = r.line ? r.line - 1 : 0;
  ex.source = r.where();
  ex.id = require_string(r, "task_id");
  const std::string& prompt = require_string(r, "prompt");
  const std::string& entry = require_string(r, "entry_point");
  const std::string& test = require_string(r, "test");
  ex.question = "Write a solution to the following problem:\n```python\n" + strip(prompt) + "\n```";
  ex.messages = {{"system", prompts::code_system}, {"user", ex.question}};
  ex.assistant_prefill = std::string(prompts::code_prefill) + "\n" + strip(prompt);
  ex.gold = {{"kind", "humaneval"},
             {"prompt", prompt},
             {"entry_point", entry},
             {"tests", nlohmann::json::array({test + "\ncheck(" + entry + ")\n"})},
             {"setup", ""},
             {"reference", prompt + optional_string(r, "canonical_solution")},
             {"inputs", nlohmann::json::array()},
             {"atol", 0.0}};
  // an optional worked answer to train on (jobs/task-target.h)
  if (r.value.contains("target") && r.value["target"].is_string()) ex.gold["target"] = r.value["target"];
  return ex;
}

namespace {

class CodeTask : public Task {
 public:
  explicit CodeTask(const TaskOptions& opt) : Task(opt) {
    T2_CHECK_AS(UsageError, opt_.time_limit == "fixed" || opt_.time_limit == "evalplus",
                "code time_limit must be 'fixed' or 'evalplus', got '{}'", opt_.time_limit);
  }
  std::string chat_template() const override { return "code_prompt"; }
  std::string metric() const override { return "base_pass@1"; }
  bool runs_code() const override { return true; }

  // The program text a response turns into (exposed for tests and `t2 score --json`).
  virtual std::string program_for(const Example& ex, const std::string& response) const = 0;

  Verdict score(const Example& ex, const std::string& response) const override {
    Verdict v;
    std::string code = program_for(ex, response);
    v.parsed = code.find_first_not_of(" \t\r\n") != std::string::npos;
    if (!v.parsed) {
      v.extracted = "";
      v.detail = "no code in the response";
      v.reward = reward_for(false, false);
      return v;
    }
    CodeProgram prog = build(ex, code);
    CodeOutcome o = run_code_program(sandbox(), prog);
    v.correct = o.passed;
    v.extracted = o.status;
    v.detail = o.passed ? "all base tests passed"
                        : fmt::format("{}{}: {}", o.status,
                                      o.failed_test >= 0 ? fmt::format(" at test {}", o.failed_test) : "", o.error);
    v.reward = reward_for(v.correct, v.parsed);
    return v;
  }

  std::vector<Verdict> score_many(const std::vector<Example>& examples, const std::vector<std::string>& responses,
                                  int parallelism) const override {
    T2_CHECK(examples.size() == responses.size(), "score_many: {} examples but {} responses", examples.size(),
             responses.size());
    std::vector<Verdict> out(examples.size());
    std::atomic<size_t> next{0};
    std::mutex err_mu;
    std::exception_ptr first_error;
    auto worker = [&] {
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= examples.size()) return;
        try {
          out[i] = score(examples[i], responses[i]);
        } catch (...) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (!first_error) first_error = std::current_exception();
        }
      }
    };
    size_t n = std::min<size_t>(size_t(std::max(1, parallelism)), examples.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (first_error) std::rethrow_exception(first_error);
    return out;
  }

 protected:
  const Sandbox& sandbox() const {
    std::call_once(sandbox_once_, [&] { sandbox_ = std::make_unique<Sandbox>(opt_.sandbox); });
    return *sandbox_;
  }

  CodeProgram build(const Example& ex, const std::string& solution) const {
    CodeProgram p;
    const auto& g = ex.gold;
    p.solution = g["setup"].get<std::string>() + solution;
    for (auto& t : g["tests"]) p.tests.push_back(t.get<std::string>());
    p.inputs = g["inputs"];
    p.reference = g["reference"].get<std::string>();
    p.entry_point = g["entry_point"].get<std::string>();
    p.atol = g["atol"].get<double>();
    p.solution_limit = opt_.test_seconds;
    if (opt_.time_limit == "evalplus") {
      p.min_limit = opt_.min_test_seconds;
      p.limit_factor = opt_.test_time_factor;
      auto ref = reference_times(ex);
      for (size_t i = 0; i < p.tests.size(); ++i)
        p.test_limits.push_back(std::max(opt_.min_test_seconds,
                                         opt_.test_time_factor * (i < ref.size() ? ref[i] : opt_.test_seconds)));
    } else {
      p.min_limit = p.limit_factor = 0;
      p.min_limit = opt_.test_seconds;  // input/output tests: a fixed limit per input
      p.test_limits.assign(p.tests.size(), opt_.test_seconds);
    }
    return p;
  }

  // evalplus: each test's time with the reference solution (measured once per problem, cached).
  std::vector<double> reference_times(const Example& ex) const {
    {
      std::lock_guard<std::mutex> lock(times_mu_);
      auto it = ref_times_.find(ex.id);
      if (it != ref_times_.end()) return it->second;
    }
    CodeProgram p;
    p.solution = ex.gold["setup"].get<std::string>() + ex.gold["reference"].get<std::string>();
    for (auto& t : ex.gold["tests"]) p.tests.push_back(t.get<std::string>());
    p.test_limits.assign(p.tests.size(), 60.0);
    p.measure_only = true;
    auto o = run_code_program(sandbox(), p);
    std::vector<double> times = o.passed ? o.test_seconds : std::vector<double>(p.tests.size(), opt_.test_seconds);
    std::lock_guard<std::mutex> lock(times_mu_);
    ref_times_[ex.id] = times;
    return times;
  }

 private:
  mutable std::once_flag sandbox_once_;
  mutable std::unique_ptr<Sandbox> sandbox_;
  mutable std::mutex times_mu_;
  mutable std::map<std::string, std::vector<double>> ref_times_;
};

class MbppTask : public CodeTask {
 public:
  using CodeTask::CodeTask;
  std::string kind() const override { return "mbpp"; }
  std::vector<std::string> splits() const override {
    return {"train", "validation", "test", "all", "standard_train", "standard_validation", "standard_test", "prompt"};
  }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) {
      auto ex = mbpp_example(recs[i]);
      ex.index = i;
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    auto all = load_file(opt_.data_file("problems", "mbpp/sanitized-mbpp.json"));
    if (split == "all") return limit(all);
    if (split == "train" || split == "validation" || split == "test") {
      size_t pool = std::min(opt_.pool_size, all.size());
      if (split == "test") return limit(std::vector<Example>(all.begin() + long(pool), all.end()));
      T2_CHECK_AS(UsageError, opt_.train_size <= pool, "mbpp: train_size {} exceeds the pool of {} problems",
                  opt_.train_size, pool);
      auto perm = seeded_permutation(pool, opt_.split_seed, opt_.shuffle);
      std::vector<Example> out;
      size_t a = split == "train" ? 0 : opt_.train_size, b = split == "train" ? opt_.train_size : pool;
      for (size_t k = a; k < b; ++k) out.push_back(all[perm[k]]);
      return limit(out);
    }
    // the MBPP README's split by task id: 1-10 prompt, 11-510 test, 511-600 validation, 601-974 train
    auto by_range = [&](int lo, int hi) {
      std::vector<Example> out;
      for (auto& e : all) {
        int id = std::atoi(e.id.c_str() + (e.id.rfind('/') == std::string::npos ? 0 : e.id.rfind('/') + 1));
        if (id >= lo && id <= hi) out.push_back(e);
      }
      return limit(out);
    };
    if (split == "prompt") return by_range(1, 10);
    if (split == "standard_test") return by_range(11, 510);
    if (split == "standard_validation") return by_range(511, 600);
    if (split == "standard_train") return by_range(601, 974);
    unknown_split(kind(), split, splits());
  }

  std::string program_for(const Example& ex, const std::string& response) const override {
    std::string body = completion_before_fence(response);
    if (opt_.has_compat(compat::mbpp_no_sanitize) && !opt_.compat.count(compat::original)) return body;
    return sanitize_python(body);
  }
};

class HumanEvalTask : public CodeTask {
 public:
  using CodeTask::CodeTask;
  std::string kind() const override { return "humaneval"; }
  std::vector<std::string> splits() const override { return {"test"}; }

  std::vector<Example> load_file(const std::string& path) const override {
    std::vector<Example> out;
    auto recs = read_records(path);
    for (size_t i = 0; i < recs.size(); ++i) {
      auto ex = humaneval_example(recs[i]);
      ex.index = i;
      out.push_back(std::move(ex));
    }
    return out;
  }

  std::vector<Example> load(const std::string& split) const override {
    if (split == "test" || split == "transfer")
      return limit(load_file(opt_.data_file("test", "humaneval/HumanEval.jsonl.gz")));
    unknown_split(kind(), split, splits());
  }

  // program = problem prompt + completion (the prefill ended with the stripped prompt)
  std::string program_for(const Example& ex, const std::string& response) const override {
    std::string body = completion_before_fence(response);
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return "";
    return ex.gold["prompt"].get<std::string>() + body;
  }
};

}  // namespace

std::unique_ptr<Task> make_mbpp_task(const TaskOptions& opt) { return std::make_unique<MbppTask>(opt); }
std::unique_ptr<Task> make_humaneval_task(const TaskOptions& opt) { return std::make_unique<HumanEvalTask>(opt); }

}  // namespace t2::tasks
