// Tasks through the public API on small hand-written files: prompts, splits, scoring, rewards,
// compat switches, user tasks, the classifier, and the errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "jobs/score.h"
#include "jobs/task.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

class TaskFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("tasks-api"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    write_file_atomic(p, text);
    return p;
  }
  std::string dir_;
};

TEST_F(TaskFiles, Gsm8kPromptSplitsAndScoring) {
  std::string lines;
  for (int i = 0; i < 5; ++i)
    lines += nlohmann::json{{"question", "Q" + std::to_string(i)}, {"answer", "work\n#### " + std::to_string(i * 1000)}}
                 .dump() + "\n";
  TaskOptions o;
  o.files["train"] = write("train.jsonl", lines);
  o.files["test"] = write("test.jsonl", lines);
  auto t = make_task("gsm8k", o);
  auto train = t->load("train"), valid = t->load("validation"), test = t->load("test");
  ASSERT_EQ(train.size(), 3u);
  ASSERT_EQ(valid.size(), 2u);
  EXPECT_EQ(train[1].question, "Q2");
  EXPECT_EQ(valid[0].question, "Q1");
  ASSERT_EQ(test.size(), 5u);
  EXPECT_EQ(test[3].messages[0].role, "system");
  EXPECT_EQ(test[3].messages[0].content, prompts::gsm8k_system);
  EXPECT_EQ(test[3].messages[1].content, "Q3");
  EXPECT_EQ(t->chat_template(), "llama3_plain");
  EXPECT_EQ(t->max_new_tokens(), 512);

  auto v = t->score(test[3], "So she has 3,000 apples.");
  EXPECT_TRUE(v.correct);
  EXPECT_EQ(v.reward, 1.0);
  v = t->score(test[3], "So she has 3,001 apples.");
  EXPECT_FALSE(v.correct);
  EXPECT_TRUE(v.parsed);
  EXPECT_EQ(v.reward, -1.0);
  v = t->score(test[3], "I do not know");
  EXPECT_FALSE(v.parsed);

  // configurable rewards and the reference's regex
  o.reward_wrong = -0.1;
  o.reward_unparsed = -0.5;
  o.compat = {"gsm8k_regex"};
  auto c = make_task("gsm8k", o);
  EXPECT_FALSE(c->score(test[3], "So she has 3,000 apples.").correct);  // reads 000
  EXPECT_TRUE(c->score(test[3], "So she has 3000 apples.").correct);
  EXPECT_EQ(c->score(test[3], "3001").reward, -0.1);
  EXPECT_EQ(c->score(test[3], "none").reward, -0.5);
  EXPECT_THROW(t->load("dev"), UsageError);
}

TEST_F(TaskFiles, ArcPromptAndKeys) {
  std::string rec =
      R"({"id": "Q1", "question": "Which?", "choices": {"text": ["red", "green", "blue"], "label": ["1", "2", "3"]}, "answerKey": "2"})";
  TaskOptions o;
  o.files["test"] = write("arc.jsonl", rec + "\n");
  auto t = make_task("arc_easy", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].messages[1].content, "Which?\nOptions:\nA. red\nB. green\nC. blue\n");
  EXPECT_EQ(ex[0].assistant_prefill, "Let's think step by step");
  EXPECT_EQ(t->chat_template(), "llama3_cot");
  EXPECT_TRUE(t->score(ex[0], "... so the answer is (B).").correct);
  EXPECT_FALSE(t->score(ex[0], "the answer is (A)").correct);
  auto none = t->score(ex[0], "no idea");
  EXPECT_FALSE(none.correct);
  EXPECT_FALSE(none.parsed);
  // reference behaviour: raw numeric keys never match, and the fixed guess for 3 options is C
  o.compat = {"original"};
  auto r = make_task("arc_easy", o);
  auto rex = r->load("test");
  EXPECT_FALSE(r->score(rex[0], "the answer is (B)").correct);
  EXPECT_EQ(r->score(rex[0], "no idea").extracted, "C");
}

TEST_F(TaskFiles, MalformedRecordsNameFileAndLine) {
  TaskOptions o;
  o.files["test"] = write("arc.jsonl", R"({"id": "Q1", "question": "Which?", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "A"})"
                                       "\n{\"id\": \"Q2\", \"question\": \"x\"}\n");
  auto t = make_task("arc_challenge", o);
  try {
    t->load("test");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("arc.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("choices"), std::string::npos) << e.what();
  }
  o.files["test"] = write("g.jsonl", "{\"question\": \"q\", \"answer\": \"no number\"}\n");
  EXPECT_THROW(make_task("gsm8k", o)->load("test"), FormatError);
  try {
    make_task("gms8k", o);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("gsm8k"), std::string::npos) << e.what();
  }
  o.compat = {"orignal"};
  EXPECT_THROW(make_task("gsm8k", o), UsageError);
}

TEST_F(TaskFiles, MathScoring) {
  TaskOptions o;
  o.files["test"] = write("math.jsonl",
                          nlohmann::json{{"problem", "P"}, {"solution", "so $\\boxed{\\frac{1}{2}}$."}, {"unique_id", "t/1"}}.dump() + "\n");
  auto t = make_task("math", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].id, "t/1");
  EXPECT_EQ(ex[0].messages[0].content, prompts::math_system);
  EXPECT_EQ(t->max_new_tokens(), 1024);
  EXPECT_TRUE(t->score(ex[0], "... \\boxed{0.5}").correct);
  EXPECT_TRUE(t->score(ex[0], "The answer is: 1/2.\n").correct);
  EXPECT_FALSE(t->score(ex[0], "\\boxed{2}").correct);
  EXPECT_FALSE(t->score(ex[0], "no box").parsed);
}

TEST_F(TaskFiles, CodeTasksRunTheirTests) {
  std::string he = nlohmann::json{{"task_id", "HumanEval/0"},
                                  {"prompt", "def inc(x):\n    \"\"\"Add one.\"\"\"\n"},
                                  {"entry_point", "inc"},
                                  {"canonical_solution", "    return x + 1\n"},
                                  {"test", "def check(candidate):\n    assert candidate(1) == 2\n"}}
                       .dump();
  TaskOptions o;
  o.files["test"] = write("he.jsonl", he + "\n");
  auto t = make_task("humaneval", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].assistant_prefill, "```python\ndef inc(x):\n    \"\"\"Add one.\"\"\"");
  EXPECT_EQ(ex[0].messages[1].content,
            "Write a solution to the following problem:\n```python\ndef inc(x):\n    \"\"\"Add one.\"\"\"\n```");
  EXPECT_EQ(t->chat_template(), "code_prompt");
  auto good = score_batch(*t, {ex[0], ex[0]}, {"    return x + 1\n```\nDone.", "    return x + 2\n```"}, 2);
  EXPECT_TRUE(good[0].correct) << good[0].detail;
  EXPECT_FALSE(good[1].correct);
  EXPECT_EQ(good[1].reward, -1.0);

  std::string mb = R"({"text": "Write a function to add two numbers", "code": "def add(a, b):\r\n  return a + b", "task_id": 7, "test_setup_code": "", "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], "challenge_test_list": []})";
  o.files["problems"] = write("mbpp.jsonl", mb + "\n");
  auto m = make_task("mbpp", o);
  auto mex = m->load("all");
  ASSERT_EQ(mex.size(), 1u);
  EXPECT_EQ(mex[0].id, "7");
  EXPECT_EQ(mex[0].messages[1].content,
            "Write a function to add two numbers. Your code should satisfy the following assertion:\n```python\n"
            "assert add(1, 2) == 3\n```");
  EXPECT_EQ(mex[0].assistant_prefill, "```python");
  // sanitisation drops the example call that would fail
  auto mv = m->score(mex[0], "\ndef add(a, b):\n    return a + b\nprint(add(1))\n```");
  EXPECT_TRUE(mv.correct) << mv.detail;
  EXPECT_FALSE(m->score(mex[0], "\ndef add(a, b):\n    return a - b\n```").correct);
  EXPECT_FALSE(m->score(mex[0], "```").parsed);
}

TEST_F(TaskFiles, MbppReferenceSplit) {
  std::string lines;
  for (int i = 1; i <= 20; ++i)
    lines += nlohmann::json{{"text", "t"}, {"code", "def f():\n  return 1"}, {"task_id", i},
                            {"test_list", {"assert f() == 1"}}}.dump() + "\n";
  TaskOptions o;
  o.files["problems"] = write("m.jsonl", lines);
  o.pool_size = 10;
  o.train_size = 6;
  auto t = make_task("mbpp", o);
  auto tr = t->load("train"), va = t->load("validation"), te = t->load("test");
  EXPECT_EQ(tr.size(), 6u);
  EXPECT_EQ(va.size(), 4u);
  EXPECT_EQ(te.size(), 10u);
  EXPECT_EQ(te[0].id, "11");
  // python's random.seed(16); random.shuffle(range(10))
  auto r = run_subprocess({test::python3(), "-c", "import random\nx=list(range(10))\nrandom.seed(16)\nrandom.shuffle(x)\nprint(x[:6])"});
  std::string ids = "[";
  for (size_t i = 0; i < tr.size(); ++i) ids += (i ? ", " : "") + std::to_string(std::stoi(tr[i].id) - 1);
  EXPECT_EQ(ids + "]\n", r.out);
}

TEST_F(TaskFiles, UserTasksWithEveryScorer) {
  std::string data = write("qa.jsonl", R"({"id": "a", "q": "2+2", "ans": "4", "opts": ["3", "4"], "num": 4, "tests": ["assert f() == 4"]})"
                                       "\n");
  auto spec = [&](const std::string& scorer, const std::string& extra) {
    return write(scorer + ".yaml", "name: mine\nfiles: {test: qa.jsonl}\nsystem_prompt: Be brief.\nprompt: \"What is {q}? {{ok}}\"\n"
                                   "answer_field: " + std::string(scorer == "numeric" ? "num" : scorer == "code" ? "tests" : "ans") +
                                   "\nid_field: id\nscorer: " + scorer + "\n" + extra);
  };
  TaskOptions o;
  o.user_spec = spec("exact", "extract: \"answer: (\\\\w+)\"\n");
  auto t = make_task("user", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].id, "a");
  EXPECT_EQ(ex[0].messages[0].content, "Be brief.");
  EXPECT_EQ(ex[0].messages[1].content, "What is 2+2? {ok}");
  EXPECT_TRUE(t->score(ex[0], "so answer: 4").correct);
  EXPECT_FALSE(t->score(ex[0], "so answer: 5").correct);
  EXPECT_FALSE(t->score(ex[0], "4").parsed);

  o.user_spec = spec("numeric", "");
  t = make_task("user", o);
  EXPECT_TRUE(t->score(t->load("test")[0], "It is 4.0").correct);

  o.user_spec = spec("regex", "");
  t = make_task("user", o);
  EXPECT_TRUE(t->score(t->load("test")[0], "x 4 y").correct);

  o.user_spec = write("mc.yaml", "files: {test: qa.jsonl}\nprompt: \"{q}\\n{options}\"\nanswer_field: ans\n"
                                 "scorer: multiple_choice\nchoices_field: opts\n");
  t = make_task("user", o);
  auto mc = t->load("test");
  EXPECT_EQ(mc[0].messages[0].content, "2+2\nA. 3\nB. 4\n");
  EXPECT_TRUE(t->score(mc[0], "the answer is (B)").correct);

  o.user_spec = spec("code", "");
  t = make_task("user", o);
  EXPECT_TRUE(t->score(t->load("test")[0], "```python\ndef f():\n    return 4\n```").correct);
  EXPECT_FALSE(t->score(t->load("test")[0], "```python\ndef f():\n    return 5\n```").correct);

  o.user_spec = write("bad.yaml", "files: {test: qa.jsonl}\nprompt: x\nanswer_field: ans\nscorer: fuzzy\n");
  EXPECT_THROW(make_task("user", o), UsageError);
  o.user_spec = write("bad2.yaml", "files: {test: qa.jsonl}\nprompt: x\nanswer_feild: ans\nscorer: exact\n");
  try {
    make_task("user", o);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("bad2.yaml:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("answer_field"), std::string::npos) << e.what();
  }
}

TEST(Dispatch, LabelsAndPrompt) {
  EXPECT_EQ(dispatch_label("Classification: \\boxed{math}"), "math");
  EXPECT_EQ(dispatch_label("\\boxed{ Code }"), "code");
  EXPECT_EQ(dispatch_label("\\boxed{Code}", true), "other");
  EXPECT_EQ(dispatch_label("\\boxed{history}"), "other");
  EXPECT_EQ(dispatch_label("none"), "other");
  EXPECT_EQ(dispatch_label("\\boxed{reasoning} then \\boxed{math}"), "reasoning");
  Example e;
  e.question = "What is 2+2?";
  auto d = dispatch_example(e);
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0].content, prompts::classify_system);
  EXPECT_EQ(d.messages[1].content, "What is 2+2?");
  std::string sys = prompts::classify_system;
  EXPECT_EQ(sys.rfind("\n    # Analyze the given question", 0), 0u);
  EXPECT_NE(sys.find("general understanding. \n"), std::string::npos);
}

// The first pass keeps the prefill of the evaluated task's template (ARC) and drops the code tasks'
// answer prefill, with the classification prompt as the system turn, as the reference does.
TEST(Dispatch, FirstPassUsesTheEvaluatedTasksPrefill) {
  Example e;
  e.question = "Which is a mammal?";
  e.messages = {{"system", "arc system"}, {"user", "Which is a mammal?\nOptions:\nA. cat\n"}};
  e.assistant_prefill = prompts::arc_prefill;
  auto arc = make_task("arc_easy");
  auto d = first_pass_example(*arc, e);
  EXPECT_EQ(d.assistant_prefill, prompts::arc_prefill);
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0].content, prompts::classify_system);
  EXPECT_EQ(d.messages[1].content, "Which is a mammal?");
  e.assistant_prefill = prompts::code_prefill;
  EXPECT_EQ(first_pass_example(*make_task("mbpp"), e).assistant_prefill, "");
  EXPECT_EQ(first_pass_example(*make_task("gsm8k"), e).assistant_prefill, "");
  // the reference's budgets and stop strings are the evaluated task's
  EXPECT_EQ(make_task("math")->max_new_tokens(), 1024);
  EXPECT_EQ(arc->max_new_tokens(), 512);
  EXPECT_EQ(arc->stop_strings(), (std::vector<std::string>{"Instruction:", "Instruction", "Response:", "Response"}));
}

}  // namespace
}  // namespace t2::tasks

namespace t2::tasks {
namespace {

TEST_F(TaskFiles, ScoreResponsesFile) {
  std::string lines;
  for (int i = 0; i < 4; ++i)
    lines += nlohmann::json{{"question", "Q"}, {"answer", "#### " + std::to_string(i + 10)}}.dump() + "\n";
  TaskOptions o;
  o.files["test"] = write("t.jsonl", lines);
  auto t = make_task("gsm8k", o);
  auto ex = t->load("test");
  std::string resp = write("r.jsonl", "{\"id\": 2, \"response\": \"it is 12\"}\n{\"id\": \"0\", \"response\": \"11\"}\n"
                                      "{\"id\": 1, \"response\": \"no idea\"}\n");
  auto rs = read_responses(resp, ex);
  ASSERT_EQ(rs.size(), 3u);
  auto rep = score_responses(*t, ex, rs, 1);
  EXPECT_EQ(rep.examples, 4u);
  EXPECT_EQ(rep.scored, 3u);
  EXPECT_EQ(rep.correct, 1u);
  ASSERT_EQ(rep.items.size(), 3u);
  EXPECT_EQ(rep.items[0].id, "0");  // data-set order
  EXPECT_FALSE(rep.items[0].verdict.correct);
  EXPECT_TRUE(rep.items[2].verdict.correct);
  auto j = rep.to_json();
  EXPECT_NEAR(j["accuracy"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_EQ(j["verdicts"].size(), 3u);
  std::string text = rep.to_text();
  EXPECT_NE(text.find("2\tcorrect\t12"), std::string::npos) << text;
  EXPECT_NE(text.find("1\tunparsed"), std::string::npos) << text;
  EXPECT_NE(text.find("(1/3)"), std::string::npos) << text;

  auto expect_error = [&](const std::string& content, const std::string& needle) {
    std::string p = write("bad.jsonl", content);
    try {
      read_responses(p, ex);
      FAIL() << content;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("{\"id\": 9, \"response\": \"x\"}\n", "bad.jsonl:1");
  expect_error("{\"id\": 0, \"response\": \"x\"}\n{\"id\": \"0\", \"response\": \"y\"}\n", "bad.jsonl:2");
  expect_error("{\"id\": 0}\n", "'response'");
  // ids are never positions: MATH ids are unique_ids, so 0 names nothing
  std::string math = nlohmann::json{{"problem", "P"}, {"solution", "\\boxed{1}"}, {"unique_id", "test/a/1.json"}}.dump();
  TaskOptions mo;
  mo.files["test"] = write("m.jsonl", math + "\n");
  auto mex = make_task("math", mo)->load("test");
  std::string bad = write("bad-pos.jsonl", "{\"id\": 0, \"response\": \"\\\\boxed{1}\"}\n");
  EXPECT_THROW(read_responses(bad, mex), FormatError);
  std::string good = write("good-id.jsonl", "{\"id\": \"test/a/1.json\", \"response\": \"\\\\boxed{1}\"}\n");
  EXPECT_EQ(read_responses(good, mex).size(), 1u);
  expect_error("{\"id\": 0, \"response\": \"x\"\n", "bad.jsonl:1");
}

}  // namespace
}  // namespace t2::tasks

namespace t2::tasks {
namespace {

TEST_F(TaskFiles, MathOriginalFolderLayout) {
  std::filesystem::create_directories(dir_ + "/MATH/test/algebra");
  std::filesystem::create_directories(dir_ + "/MATH/test/geometry");
  write("MATH/test/algebra/1.json", R"({"problem": "p1", "level": "Level 2", "type": "Algebra", "solution": "$\\boxed{4}$"})");
  write("MATH/test/geometry/7.json", R"({"problem": "p2", "level": "Level 5", "type": "Geometry", "solution": "so \\boxed{\\frac{\\pi}{2}}"})");
  TaskOptions o;
  o.files["test"] = dir_ + "/MATH/test";
  auto t = make_task("math", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[1].gold["answer"], "\\frac{\\pi}{2}");
  EXPECT_EQ(ex[1].gold["subject"], "Geometry");
  EXPECT_TRUE(t->score(ex[1], "\\boxed{\\pi/2}").correct);
  write("MATH/test/geometry/8.json", R"({"problem": "p3", "solution": "no box"})");
  try {
    t->load("test");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("8.json"), std::string::npos) << e.what();
  }
}

TEST_F(TaskFiles, EvalplusTimeLimitFromTheReferenceSolution) {
  std::string he = nlohmann::json{{"task_id", "T/0"},
                                  {"prompt", "def f(x):\n"},
                                  {"entry_point", "f"},
                                  {"canonical_solution", "    return x * 2\n"},
                                  {"test", "def check(candidate):\n    assert candidate(2) == 4\n"}}
                       .dump();
  TaskOptions o;
  o.files["test"] = write("he.jsonl", he + "\n");
  o.time_limit = "evalplus";  // max(0.2 s, 4 x reference time): the instant reference gives 0.2 s
  auto t = make_task("humaneval", o);
  auto ex = t->load("test");
  EXPECT_TRUE(t->score(ex[0], "    return x + x\n").correct);
  auto slow = t->score(ex[0], "    import time\n    time.sleep(1.5)\n    return x * 2\n");
  EXPECT_FALSE(slow.correct);
  EXPECT_EQ(slow.extracted, "timeout") << slow.detail;
  o.time_limit = "fixed";
  auto f = make_task("humaneval", o);  // 5 s per test: the slow one passes
  EXPECT_TRUE(f->score(f->load("test")[0], "    import time\n    time.sleep(1.5)\n    return x * 2\n").correct);
  o.time_limit = "sometimes";
  EXPECT_THROW(make_task("humaneval", o), UsageError);
}

}  // namespace
}  // namespace t2::tasks

namespace t2::tasks {
namespace {

TEST_F(TaskFiles, MbppPlusRecords) {
  nlohmann::json rec = {{"task_id", "Mbpp/2"},
                        {"prompt", "\"\"\"\nWrite a function to find the shared elements from the given two lists.\n"
                                   "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n\"\"\"\n"},
                        {"entry_point", "similar_elements"},
                        {"canonical_solution", "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))\n"},
                        {"base_input", {{{3, 4, 5, 6}, {5, 7, 4, 10}}, {{1, 2}, {3}}}},
                        {"atol", 0}};
  TaskOptions o;
  o.files["problems"] = write("mbppplus.jsonl", rec.dump() + "\n");
  auto t = make_task("mbpp", o);
  auto ex = t->load("all");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].id, "Mbpp/2");
  EXPECT_EQ(ex[0].messages[1].content,
            "Write a function to find the shared elements from the given two lists. Your code should satisfy the "
            "following assertion:\n```python\nassert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n```");
  EXPECT_TRUE(t->score(ex[0], "\ndef similar_elements(x, y):\n    return tuple(sorted(set(x).intersection(y)))\n```").correct);
  auto wrong = t->score(ex[0], "\ndef similar_elements(x, y):\n    return tuple(set(x) | set(y))\n```");
  EXPECT_FALSE(wrong.correct);
  EXPECT_NE(wrong.detail.find("input 0"), std::string::npos) << wrong.detail;
  rec["base_input"] = 3;
  o.files["problems"] = write("bad.jsonl", rec.dump() + "\n");
  EXPECT_THROW(make_task("mbpp", o)->load("all"), FormatError);
}

}  // namespace
}  // namespace t2::tasks
