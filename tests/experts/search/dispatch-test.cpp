// Dispatch: label extraction, routing with and without the reference's "last expert" quirk, the
// classification prompt's text, and the classifier-expert data recipe.
#include <gtest/gtest.h>

#include "core/error.h"

#include "experts/dispatch.h"

namespace t2 {
namespace {

TEST(Dispatch, LabelIsFirstBoxedExactMatch) {
  EXPECT_EQ(dispatch_label("Classification: \\boxed{math}"), "math");
  EXPECT_EQ(dispatch_label("\\boxed{code} then \\boxed{math}"), "code");
  EXPECT_EQ(dispatch_label("\\boxed{Math}"), "other");  // case-sensitive, as the reference
  EXPECT_EQ(dispatch_label("\\boxed{other}"), "other");
  EXPECT_EQ(dispatch_label("no box at all"), "other");
  EXPECT_EQ(dispatch_label("\\boxed{reasoning"), "other");
  EXPECT_EQ(dispatch_label("x \\boxed{reasoning} y"), "reasoning");
}

TEST(Dispatch, OtherUsesBaseWeightsUnlessCompatOriginal) {
  std::map<std::string, int> experts{{"code", 0}, {"math", 1}, {"reasoning", 2}};
  EXPECT_EQ(dispatch_route("math", experts, DispatchCompat::fixed, 2), 1);
  EXPECT_EQ(dispatch_route("other", experts, DispatchCompat::fixed, 2), -1);
  EXPECT_EQ(dispatch_route("other", experts, DispatchCompat::original, 2), 2);
  EXPECT_THROW(dispatch_compat_from_name("paper"), UsageError);
}

TEST(Dispatch, ClassificationPromptText) {
  const auto& p = dispatch_classification_prompt();
  EXPECT_EQ(p.front(), '\n');
  EXPECT_NE(p.find("    # Analyze the given question and classify it into one of four categories: 'code', 'math', "
                   "'reasoning' or 'other'. Follow these guidelines:\n"),
            std::string::npos);
  EXPECT_NE(p.find("based on general understanding. \n"), std::string::npos);  // the trailing space
  EXPECT_NE(p.find("Example: \\boxed{reasoning}\n"), std::string::npos);
  EXPECT_NE(p.find("    Classification: \\boxed{category}"), std::string::npos);
}

TEST(Dispatch, ClsDatasetRecipe) {
  std::vector<std::string> math, code, reasoning;
  for (int i = 0; i < 500; ++i) {
    math.push_back("m" + std::to_string(i));
    code.push_back("c" + std::to_string(i));
    reasoning.push_back("r" + std::to_string(i));
  }
  auto s = dispatch_cls_dataset(math, code, reasoning);
  const size_t total = 3 * 399;
  EXPECT_EQ(s.train.size() + s.valid.size() + s.test.size(), total);
  size_t expect_test = 0;
  for (size_t i = 0; i < total; ++i) expect_test += i % 5 == 4;
  EXPECT_EQ(s.test.size(), expect_test);
  EXPECT_EQ(s.train[0].question, "m0");
  EXPECT_EQ(s.valid[0].question, "m1");
  EXPECT_EQ(s.test[0].question, "m4");
  EXPECT_EQ(dispatch_cls_reward("\\boxed{code}", "code"), 1.0);
  EXPECT_EQ(dispatch_cls_reward("\\boxed{Code}", "code"), -1.0);
}

}  // namespace
}  // namespace t2
