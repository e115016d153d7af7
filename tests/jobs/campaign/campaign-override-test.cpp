// The pieces under the loader: override parsing and ${VAR} expansion.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "jobs/config-override.h"
#include "jobs/yaml-env.h"

namespace {

t2::EnvLookup table(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

TEST(EnvExpansion, Forms) {
  auto env = table({{"A", "x"}, {"EMPTY", ""}, {"B", "${A}"}});
  EXPECT_EQ(t2::expand_env("a${A}b", env).value, "axb");
  EXPECT_EQ(t2::expand_env("${MISSING:-d}", env).value, "d");
  EXPECT_EQ(t2::expand_env("${EMPTY:-d}", env).value, "d");
  EXPECT_EQ(t2::expand_env("${MISSING:-${A}/y}", env).value, "x/y");
  EXPECT_EQ(t2::expand_env("$$A $5 ${A}$", env).value, "$A $5 x$");
  // A looked-up value is not expanded again.
  EXPECT_EQ(t2::expand_env("${B}", env).value, "${A}");
}

TEST(EnvExpansion, Errors) {
  auto env = table({});
  EXPECT_NE(t2::expand_env("${NOPE}", env).error.find("variable 'NOPE' is not set and has no default"), std::string::npos);
  EXPECT_NE(t2::expand_env("x${A", env).error.find("unterminated '${' at character 2"), std::string::npos);
  EXPECT_NE(t2::expand_env("${a b}", env).error.find("is not a variable reference"), std::string::npos);
}

TEST(Override, ParsesPathsAndValues) {
  auto o = t2::parse_override("experiments.experts.lr=[1e-3, 2e-3]", 3);
  EXPECT_EQ(o.keys, (std::vector<std::string>{"experiments", "experts", "lr"}));
  ASSERT_TRUE(o.value.is_seq());
  EXPECT_EQ(o.value.seq.size(), 2u);
  EXPECT_EQ(o.value.seq[1].origin.override_index, 3);
  auto r = t2::parse_override("~slurm.account", 1);
  EXPECT_TRUE(r.remove);
  auto n = t2::parse_override("slurm.account=", 1);
  EXPECT_TRUE(n.value.is_null());
}

TEST(Override, MalformedOverridesNameTheirPosition) {
  try {
    t2::parse_override("models..path=x", 2);
    FAIL();
  } catch (const t2::UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("<override 2>: 'models..path' is not a key path", 0), 0u) << e.what();
  }
  try {
    t2::parse_override("seed=[1, 2", 4);
    FAIL();
  } catch (const t2::UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("<override 4>: yaml: ", 0), 0u) << e.what();
  }
  EXPECT_THROW(t2::parse_override("justtext", 1), t2::UsageError);
}

TEST(Override, LooksLikeOverride) {
  EXPECT_TRUE(t2::looks_like_override("a.b=c"));
  EXPECT_TRUE(t2::looks_like_override("~a.b"));
  EXPECT_TRUE(t2::looks_like_override("x=a/b"));
  EXPECT_FALSE(t2::looks_like_override("dir/a=b.yaml"));
  EXPECT_FALSE(t2::looks_like_override("campaign.yaml"));
  EXPECT_FALSE(t2::looks_like_override("=x"));
}

TEST(Override, AppliesThroughMapsAndLists) {
  t2::ConfigProblems problems("f.yaml");
  t2::yaml::Node root = t2::yaml::parse("a: {b: 1}\nl: [{name: x, v: 1}, {kind: y}]\ns: 3\n", "f.yaml");
  t2::apply_override(root, t2::parse_override("a.c.d=5", 1), problems);
  t2::apply_override(root, t2::parse_override("l.x.v=2", 2), problems);
  t2::apply_override(root, t2::parse_override("l.y.v=3", 3), problems);
  t2::apply_override(root, t2::parse_override("l.2.v=4", 4), problems);
  t2::apply_override(root, t2::parse_override("~a.b", 5), problems);
  EXPECT_TRUE(problems.empty()) << problems.lines().front();
  EXPECT_EQ(root.find("a")->find("c")->find("d")->scalar, "5");
  EXPECT_EQ(root.find("a")->find("b"), nullptr);
  ASSERT_EQ(root.find("l")->seq.size(), 3u);
  EXPECT_EQ(root.find("l")->seq[0].find("v")->scalar, "2");
  EXPECT_EQ(root.find("l")->seq[1].find("v")->scalar, "3");
  EXPECT_EQ(root.find("l")->seq[2].find("v")->scalar, "4");
  t2::apply_override(root, t2::parse_override("s.x=1", 6), problems);
  t2::apply_override(root, t2::parse_override("l.9.v=1", 7), problems);
  t2::apply_override(root, t2::parse_override("~nothing", 8), problems);
  auto lines = problems.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("<override 6>: s.x: cannot set a key inside '3' at s", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("<override 7>: l.9: position 9 is past the end of l", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("<override 8>: nothing: cannot remove: no such key", 0), 0u) << lines[2];
}

}  // namespace
