// No evaluated example is ever seen before it is scored: for every built-in task on the published
// data, the examples a method is evaluated on (the test split, or for the few-shot mixture the test
// split without its shots) share no example with the task's train and validation splits, with the
// few-shot examples, or with the classifier's training and validation data. An example is named by
// its data file and id (GSM8K ids are positions, so "0" of train.jsonl is not "0" of test.jsonl).
// The same check finds the leak of the reference's recipe (compat cls_test_data), so it can fail.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "coordinator/campaign-data.h"
#include "core/error.h"
#include "jobs/campaign.h"
#include "jobs/registry-builtin.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

std::string file_of(const std::string& source) {
  auto p = source.rfind(':');
  return p == std::string::npos ? source : source.substr(0, p);
}

std::string key(const tasks::Example& ex) { return file_of(ex.source) + "#" + ex.id; }

std::set<std::string> keys(const std::vector<tasks::Example>& v) {
  std::set<std::string> s;
  for (const auto& ex : v) s.insert(key(ex));
  return s;
}

size_t overlap(const std::set<std::string>& a, const std::set<std::string>& b, std::string* first = nullptr) {
  size_t n = 0;
  for (const auto& k : a)
    if (b.count(k)) {
      if (first && first->empty()) *first = k;
      ++n;
    }
  return n;
}

const char* kTasks[] = {"gsm8k", "math", "mbpp", "humaneval", "arc_easy", "arc_challenge"};

Campaign builtin_campaign(const std::string& data, const std::string& cls_extra = "") {
  std::string y = "name: leak\ndata_dir: " + data + "\nmodels: {m: {path: /m}}\ntasks:\n";
  for (const char* t : kTasks) y += std::string("  ") + t + ": {}\n";
  y += "  cls: {" + cls_extra + "}\n";
  y += "experiments:\n  - {name: e, kind: evaluate, tasks: [gsm8k], methods: [base]}\n";
  return parse_campaign(y, "leak.yaml");
}

// The classifier's train+valid examples that are test examples of their source task.
size_t cls_leaks(const Campaign& c, std::string* first) {
  CampaignTask cls(c, *c.find_task("cls"));
  std::map<std::string, std::set<std::string>> source_test;
  for (const char* t : kTasks) source_test[t] = keys(CampaignTask(c, *c.find_task(t)).examples("test"));
  size_t n = 0;
  for (const char* role : {"train", "valid"})
    for (const auto& ex : cls.examples(role)) {
      // id: <label>/<source task>/<source id>; source: the source example's file:line
      auto a = ex.id.find('/'), b = ex.id.find('/', a + 1);
      std::string src = ex.id.substr(a + 1, b - a - 1);
      std::string k = file_of(ex.source) + "#" + ex.gold.at("origin").get<std::string>();
      if (source_test.at(src).count(k)) {
        if (first->empty()) *first = ex.id + " (" + k + ")";
        ++n;
      }
    }
  return n;
}

TEST(SplitLeak, NoEvaluatedExampleIsSeenByAnyBuiltinTask) {
  T2_REQUIRE_DATA(data);
  Campaign c = builtin_campaign(data);
  for (const char* name : kTasks) {
    SCOPED_TRACE(name);
    CampaignTask ct(c, *c.find_task(name));
    auto test = keys(ct.examples("test"));
    ASSERT_FALSE(test.empty());
    // seen by experts: train and validation
    for (const char* role : {"train", "valid"}) {
      if (!ct.has_role(role)) continue;
      std::string first;
      EXPECT_EQ(overlap(test, keys(ct.examples(role)), &first), 0u) << role << " holds test example " << first;
    }
    // seen by the few-shot search: its shots, with the task's default seed and the paper's 10 shots
    const auto& kind = task_kinds().at(name);
    std::string shots_role = "shots:10:" + std::to_string(kind.shots_seed.value_or(0));
    auto shots = keys(ct.examples(shots_role));
    ASSERT_EQ(shots.size(), 10u);
    auto evaluated = keys(ct.examples(ct.evaluated_role(shots_role)));
    std::string first;
    EXPECT_EQ(overlap(evaluated, shots, &first), 0u) << "few-shot example " << first << " is evaluated";
    if (ct.shots_source() == "test") {
      // the shots left the evaluated set, and the table's n shows it
      EXPECT_EQ(evaluated.size(), test.size() - 10);
      EXPECT_EQ(overlap(test, shots), 10u);
    } else {
      EXPECT_EQ(evaluated, test);
      EXPECT_EQ(overlap(test, shots), 0u);
    }
    for (const char* role : {"train", "valid"}) {
      if (ct.has_role(role)) {
        EXPECT_EQ(overlap(evaluated, keys(ct.examples(role))), 0u) << role;
      }
    }
  }
  // the classifier (default sources: gsm8k, mbpp, arc_challenge) trains on train splits only
  std::string first;
  EXPECT_EQ(cls_leaks(c, &first), 0u) << "classifier data holds test example " << first;
  CampaignTask cls(c, *c.find_task("cls"));
  EXPECT_EQ(overlap(keys(cls.examples("test")), keys(cls.examples("train"))), 0u);
  EXPECT_EQ(overlap(keys(cls.examples("test")), keys(cls.examples("valid"))), 0u);
}

TEST(SplitLeak, TheReferenceRecipeIsCaught) {
  T2_REQUIRE_DATA(data);
  // compat cls_test_data: the reference's sources are test splits; the same check sees the leak
  Campaign c = builtin_campaign(data, "compat: [cls_test_data]");
  std::string first;
  // 4/5 of 399 GSM8K + 99 MBPP + 399 ARC-Challenge test questions
  EXPECT_GT(cls_leaks(c, &first), 700u) << first;
}

TEST(SplitLeak, ClassifierSourceWithoutTrainSplitIsRefused) {
  T2_REQUIRE_DATA(data);
  std::string y = "name: leak\ndata_dir: " + data +
                  "\nmodels: {m: {path: /m}}\ntasks:\n  gsm8k: {}\n  mbpp: {}\n  math: {}\n"
                  "  cls: {sources: {math: math, code: mbpp}}\n"
                  "experiments:\n  - {name: e, kind: evaluate, tasks: [gsm8k], methods: [base]}\n";
  Campaign c = parse_campaign(y, "leak.yaml");
  CampaignTask cls(c, *c.find_task("cls"));
  try {
    cls.examples("train");
    FAIL() << "a test-only source was used for classifier training";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("source 'math' (label math) has no train split"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("cls_test_data"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace t2
