// The t2 binary's command line: help, version, unknown subcommands, exit codes.
#include <gtest/gtest.h>

#include "tests/support/test-support.h"

using t2::test::run_t2;

TEST(Cli, HelpListsEverySubcommand) {
  auto r = run_t2({"--help"});
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  for (const char* sub : {"run", "submit", "plan", "status", "table", "report", "decompose", "generate",
                          "tokenize", "logprobs", "score", "experts", "cancel"})
    EXPECT_NE(r.out.find(std::string("  ") + sub), std::string::npos) << sub << " missing in\n" << r.out;
}

TEST(Cli, VersionPrintsVersionAndSha) {
  auto r = run_t2({"--version"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.out.find("t2 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("git "), std::string::npos) << r.out;
}

TEST(Cli, UnknownSubcommandIsUsageError) {
  auto r = run_t2({"frobnicate"});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, NoSubcommandIsUsageError) {
  auto r = run_t2({});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"run", "submit", "plan", "status", "table", "report", "decompose", "generate",
                          "tokenize", "logprobs", "score", "experts", "cancel"}) {
    auto r = run_t2({sub, "--help"});
    EXPECT_TRUE(r.ok()) << sub << ": " << r.describe();
  }
}
