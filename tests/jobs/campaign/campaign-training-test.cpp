// The settings of what a training job trains (jobs/layer-list.h, jobs/task-target.h) and how the plan
// names them: layer lists, next-token targets per task kind, non-default settings in job ids.
#include <gtest/gtest.h>

#include "core/error.h"
#include "jobs/layer-list.h"
#include "jobs/task-target.h"
#include "jobs/task.h"

namespace {

TEST(LayerList, ParsesRangesAndListsAndPrintsThemBack) {
  EXPECT_TRUE(t2::parse_layer_list("all").empty());
  EXPECT_EQ(t2::parse_layer_list("0-3"), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(t2::parse_layer_list("7,0-2, 5,2"), (std::vector<int64_t>{0, 1, 2, 5, 7}));
  EXPECT_EQ(t2::layer_list_text(t2::parse_layer_list("7,0-2,5,3")), "0-3,5,7");
  EXPECT_EQ(t2::layer_list_text({}), "all");
  EXPECT_EQ(t2::layer_list_text(t2::parse_layer_list("0-39")), "0-39");
  for (const char* bad : {"", "x", "3-1", "1,,2", "-2", "1-", "half"})
    EXPECT_THROW(t2::parse_layer_list(bad), t2::UsageError) << bad;
}

// A task of the given kind whose examples are never loaded (only kind() is read).
class KindOnly : public t2::tasks::Task {
 public:
  explicit KindOnly(std::string k) : Task(t2::tasks::TaskOptions{}), kind_(std::move(k)) {}
  std::string kind() const override { return kind_; }
  std::vector<std::string> splits() const override { return {}; }
  std::vector<t2::tasks::Example> load(const std::string&) const override { return {}; }
  std::vector<t2::tasks::Example> load_file(const std::string&) const override { return {}; }
  t2::tasks::Verdict score(const t2::tasks::Example&, const std::string&) const override { return {}; }

 private:
  std::string kind_;
};

TEST(NextTokenTarget, EachKindTrainsOnItsSolution) {
  t2::tasks::Example ex;
  ex.id = "x";
  ex.gold = {{"answer", "7"}, {"solution", "3 + 4 = 7\n#### 7"}};
  EXPECT_EQ(t2::tasks::next_token_target(KindOnly("gsm8k"), ex), "3 + 4 = 7\n#### 7");
  ex.gold = {{"answer", "B"}};
  EXPECT_EQ(t2::tasks::next_token_target(KindOnly("arc_easy"), ex), ".\nThe answer is B.");
  ex.gold = {{"kind", "humaneval"}, {"prompt", "def f(x):\n"}, {"reference", "def f(x):\n    return x\n"}};
  EXPECT_EQ(t2::tasks::next_token_target(KindOnly("humaneval"), ex), "\n    return x\n```");
  ex.gold = {{"answer", "math"}};
  EXPECT_EQ(t2::tasks::next_token_target(KindOnly("cls"), ex), "\\boxed{math}");
  // a record's own target wins over the kind's rule
  ex.gold = {{"answer", "B"}, {"target", ":\nA. hammer -\nB. peach +"}};
  EXPECT_EQ(t2::tasks::next_token_target(KindOnly("arc_easy"), ex), ":\nA. hammer -\nB. peach +");
  // nothing to train on: refused, naming the example and the kind
  ex.gold = {{"answer", "4"}};
  try {
    t2::tasks::next_token_target(KindOnly("math"), ex);
    FAIL() << "a MATH example without a solution was accepted";
  } catch (const t2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("example x of a math task"), std::string::npos) << e.what();
  }
}

}  // namespace
