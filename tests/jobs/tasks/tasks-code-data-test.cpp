// Code tasks on the real data: HumanEval's canonical solutions and MBPP's reference code run in the
// sandbox (two at a time) through the same path as model completions.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "jobs/task.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

TEST(HumanEvalData, CanonicalSolutionsPassAndBrokenOnesFail) {
  T2_REQUIRE_DATA(dir);
  TaskOptions o;
  o.data_root = dir;
  auto t = make_task("humaneval", o);
  auto ex = t->load("test");
  ASSERT_EQ(ex.size(), 164u);
  std::vector<std::string> canonical, broken;
  for (auto& e : ex) {
    std::string ref = e.gold["reference"].get<std::string>();
    std::string prompt = e.gold["prompt"].get<std::string>();
    // the completion as a model would write it after the prefill, closing its code block
    canonical.push_back(ref.substr(prompt.size()) + "```\nThis solution works.");
    broken.push_back("    raise NotImplementedError\n```");
  }
  auto t0 = std::chrono::steady_clock::now();
  auto v = score_batch(*t, ex, canonical, 2);
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t pass = 0;
  std::string fails;
  for (size_t i = 0; i < v.size(); ++i) {
    pass += v[i].correct;
    if (!v[i].correct) fails += ex[i].id + ": " + v[i].detail + "\n";
  }
  EXPECT_EQ(pass, 164u) << fails;
  // the < 60 s target is measured by bench/tasks (a shared CI machine makes it a poor assertion)
  std::cout << "[ timing   ] 164 HumanEval canonical solutions in " << dt << " s (pool of 2)\n";
  auto b = score_batch(*t, ex, broken, 2);
  size_t broken_pass = 0;
  for (auto& x : b) broken_pass += x.correct;
  EXPECT_EQ(broken_pass, 0u);
}

// MBPP (sanitized, 427 problems): the published reference code, sanitised and run against the
// published asserts. Observed: all 427 pass (no upstream failures in this file).
TEST(MbppData, ReferenceCodePassesExceptKnownUpstreamFailures) {
  T2_REQUIRE_DATA(dir);
  TaskOptions o;
  o.data_root = dir;
  o.test_seconds = 30;  // task 123 (amicable numbers below 9999) needs several seconds on a busy machine
  auto t = make_task("mbpp", o);
  auto ex = t->load("all");
  ASSERT_EQ(ex.size(), 427u);
  std::vector<std::string> responses;
  for (auto& e : ex) responses.push_back("\n" + e.gold["reference"].get<std::string>() + "\n```");
  auto v = score_batch(*t, ex, responses, 2);
  std::set<std::string> failing;
  std::string why;
  for (size_t i = 0; i < v.size(); ++i)
    if (!v[i].correct) failing.insert(ex[i].id), why += ex[i].id + ": " + v[i].detail + "\n";
  const std::set<std::string> upstream = {};
  EXPECT_EQ(failing, upstream) << why;
  EXPECT_EQ(v.size() - failing.size(), 427u - upstream.size());
  // the split of the reference: 300 pooled (200 train / 100 validation), the rest test
  EXPECT_EQ(t->load("train").size(), 200u);
  EXPECT_EQ(t->load("validation").size(), 100u);
  EXPECT_EQ(t->load("test").size(), 127u);
}

// The original mbpp.jsonl (974 problems, code with CRLF and tab indentation, `test_setup_code`).
TEST(MbppData, OriginalFileReferenceCode) {
  T2_REQUIRE_DATA(dir);
  TaskOptions o;
  o.data_root = dir;
  o.files["problems"] = dir + "/data/mbpp/mbpp.jsonl";
  o.test_seconds = 30;
  auto t = make_task("mbpp", o);
  auto ex = t->load("all");
  ASSERT_EQ(ex.size(), 974u);
  std::vector<std::string> responses;
  for (auto& e : ex) responses.push_back("\n" + e.gold["reference"].get<std::string>() + "\n```");
  auto v = score_batch(*t, ex, responses, 2);
  std::set<std::string> failing;
  std::string why;
  for (size_t i = 0; i < v.size(); ++i)
    if (!v[i].correct) failing.insert(ex[i].id), why += ex[i].id + ": " + v[i].detail + "\n";
  // Observed on the CI image: every published reference program passes its asserts once
  // test_setup_code runs after the solution (367 and 927 build their trees from its Node class).
  const std::set<std::string> upstream = {};
  EXPECT_EQ(failing, upstream) << why;
  EXPECT_EQ(v.size() - failing.size(), 974u);
}

}  // namespace
}  // namespace t2::tasks
