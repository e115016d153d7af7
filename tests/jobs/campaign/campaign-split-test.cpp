// Split rules: parsing, the index stages, and the shuffle against Python's own random.shuffle.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobs/config-split.h"
#include "tests/support/test-support.h"

namespace {

std::vector<int64_t> python_reference(int64_t n, int64_t seed) {
  const std::string code = "import json, random\nx = list(range(" + std::to_string(n) + "))\nrandom.Random(" +
                           std::to_string(seed) + ").shuffle(x)\nprint(json.dumps(x))\n";
  auto r = t2::run_subprocess({t2::test::python3(), "-c", code});
  EXPECT_TRUE(r.ok()) << r.describe() << r.err;
  return nlohmann::json::parse(r.out).get<std::vector<int64_t>>();
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

TEST(SplitRule, ParsesStagesAndPrintsCanonically) {
  t2::SplitRule r;
  std::string err;
  ASSERT_TRUE(t2::parse_split_rule("problems|first:300|shuffle:16|range:200:300", r, err)) << err;
  EXPECT_EQ(r.source, "problems");
  ASSERT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.stages[1].op, "shuffle");
  EXPECT_EQ(r.stages[1].args, std::vector<int64_t>{16});
  EXPECT_EQ(r.text(), "problems|first:300|shuffle:16|range:200:300");
  ASSERT_TRUE(t2::parse_split_rule("pool|mod:5:0,1,2,3|odd", r, err)) << err;
  EXPECT_EQ(r.text(), "pool|mod:5:0,1,2,3|odd");
}

TEST(SplitRule, RejectsBadStagesWithTheExpectedForm) {
  t2::SplitRule r;
  std::string err;
  EXPECT_FALSE(t2::parse_split_rule("train|first", r, err));
  EXPECT_NE(err.find("expected first:N"), std::string::npos) << err;
  EXPECT_FALSE(t2::parse_split_rule("train|range:5:2", r, err));
  EXPECT_NE(err.find("A > B"), std::string::npos) << err;
  EXPECT_FALSE(t2::parse_split_rule("train|mod:5:7", r, err));
  EXPECT_NE(err.find("outside 0..4"), std::string::npos) << err;
  EXPECT_FALSE(t2::parse_split_rule("|even", r, err));
  EXPECT_FALSE(t2::parse_split_rule("train|shufle:3", r, err));
  EXPECT_NE(err.find("did you mean 'shuffle:SEED'"), std::string::npos) << err;
}

TEST(SplitRule, EvenOddPartitionTheFile) {
  t2::SplitRule even, odd;
  std::string err;
  ASSERT_TRUE(t2::parse_split_rule("train|even", even, err));
  ASSERT_TRUE(t2::parse_split_rule("train|odd", odd, err));
  // GSM8K train: 7473 records -> 3737 / 3736 (METHOD.md §4.3).
  auto a = t2::apply_split(even, 7473), b = t2::apply_split(odd, 7473);
  EXPECT_EQ(a.size(), 3737u);
  EXPECT_EQ(b.size(), 3736u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], int64_t(2 * i));
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], int64_t(2 * i + 1));
}

TEST(SplitRule, ModFourOfFiveAndTheRest) {
  t2::SplitRule train, test;
  std::string err;
  ASSERT_TRUE(t2::parse_split_rule("pool|mod:5:0,1,2,3", train, err));
  ASSERT_TRUE(t2::parse_split_rule("pool|mod:5:4", test, err));
  auto a = t2::apply_split(train, 1197), b = t2::apply_split(test, 1197);
  EXPECT_EQ(a.size() + b.size(), 1197u);
  for (auto i : a) EXPECT_LT(i % 5, 4);
  for (auto i : b) EXPECT_EQ(i % 5, 4);
}

TEST(SplitRule, ShuffleMatchesPython) {
  for (auto [n, seed] : std::vector<std::pair<int64_t, int64_t>>{{300, 16}, {500, 27}, {1172, 38}, {164, 16},
                                                                  {10, 0}, {50, 4294967297LL}}) {
    EXPECT_EQ(t2::python_shuffle(iota(n), static_cast<uint64_t>(seed)), python_reference(n, seed))
        << "n=" << n << " seed=" << seed;
  }
}

TEST(SplitRule, MbppTrainingSplitMatchesPythonPipeline) {
  t2::SplitRule train, valid, test;
  std::string err;
  ASSERT_TRUE(t2::parse_split_rule("problems|first:300|shuffle:16|first:200", train, err));
  ASSERT_TRUE(t2::parse_split_rule("problems|first:300|shuffle:16|range:200:300", valid, err));
  ASSERT_TRUE(t2::parse_split_rule("problems|range:300:399", test, err));
  auto ref = python_reference(300, 16);
  auto a = t2::apply_split(train, 399), b = t2::apply_split(valid, 399), c = t2::apply_split(test, 399);
  EXPECT_EQ(a, std::vector<int64_t>(ref.begin(), ref.begin() + 200));
  EXPECT_EQ(b, std::vector<int64_t>(ref.begin() + 200, ref.end()));
  ASSERT_EQ(c.size(), 99u);
  EXPECT_EQ(c.front(), 300);
  EXPECT_EQ(c.back(), 398);
}

}  // namespace
