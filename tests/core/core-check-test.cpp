#include <gtest/gtest.h>

#include "core/check.h"
#include "core/names.h"

TEST(Check, FailureCarriesMessageLocationAndExpression) {
  try {
    int n = -3;
    T2_CHECK(n > 0, "batch size must be positive, got {}", n);
    FAIL() << "no throw";
  } catch (const t2::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("batch size must be positive, got -3"), std::string::npos) << m;
    EXPECT_NE(m.find("core-check-test.cpp"), std::string::npos) << m;
    EXPECT_NE(m.find("n > 0"), std::string::npos) << m;
    EXPECT_EQ(e.code(), t2::ExitCode::runtime_failure);
  }
}

TEST(Check, TypedFailureKeepsExitCode) {
  EXPECT_THROW(T2_CHECK_AS(t2::FormatError, false, "bad byte {}", 7), t2::FormatError);
  try {
    T2_CHECK_AS(t2::UsageError, 1 == 2, "x");
  } catch (const t2::Error& e) {
    EXPECT_EQ(e.code(), t2::ExitCode::usage_error);
  }
  EXPECT_NO_THROW(T2_CHECK(true, "never"));
}

TEST(Names, SuggestsCloseNamesOnly) {
  std::vector<std::string> valid{"gsm8k", "math", "mbpp", "humaneval", "arc_easy", "arc_challenge"};
  EXPECT_EQ(t2::closest_name("gsm8", valid), "gsm8k");
  EXPECT_EQ(t2::closest_name("arc_chalenge", valid), "arc_challenge");
  EXPECT_EQ(t2::closest_name("zzzzzzzz", valid), "");
  EXPECT_EQ(t2::edit_distance("kitten", "sitting"), 3u);
  EXPECT_NE(t2::suggest("hmaneval", valid).find("did you mean 'humaneval'?"), std::string::npos);
}
