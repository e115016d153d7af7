// `t2 score` end to end on the real data: the binary's verdicts and accuracy equal score_batch's on
// the same responses, for the six built-in tasks; bad input exits 2 naming the file and line.
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "core/files.h"
#include "jobs/task.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

struct Case {
  std::string task, split;
};

TEST(ScoreCli, AgreesWithTheLibraryOnEveryTask) {
  T2_REQUIRE_DATA(dir);
  if (!path_exists(test::t2_binary())) GTEST_SKIP() << test::t2_binary() << " not built";
  std::string tmp = test::make_temp_dir("score-cli");
  TaskOptions o;
  o.data_root = dir;
  for (const Case c : {Case{"gsm8k", "test"}, Case{"math", "test"}, Case{"arc_easy", "test"},
                       Case{"arc_challenge", "test"}, Case{"humaneval", "test"}, Case{"mbpp", "test"}}) {
    auto t = make_task(c.task, o);
    auto ex = t->load(c.split);
    size_t n = t->runs_code() ? 6 : 40;
    std::vector<Example> sub(ex.begin(), ex.begin() + long(n));
    std::vector<std::string> responses;
    std::string lines;
    for (size_t i = 0; i < n; ++i) {
      const auto& g = sub[i].gold;
      std::string r;
      if (c.task == "gsm8k") r = i % 3 ? g["solution"].get<std::string>() : "It is 12345.";
      else if (c.task == "math") r = i % 3 ? "\\boxed{" + g["answer"].get<std::string>() + "}" : "\\boxed{-1}";
      else if (c.task.rfind("arc", 0) == 0) r = "the answer is (" + std::string(i % 2 ? "A" : g["answer"].get<std::string>()) + ")";
      else if (c.task == "humaneval")
        r = i % 2 ? g["reference"].get<std::string>().substr(g["prompt"].get<std::string>().size()) + "```" : "    return None\n```";
      else r = i % 2 ? "\n" + g["reference"].get<std::string>() + "\n```" : "\ndef nothing():\n    pass\n```";
      responses.push_back(r);
      nlohmann::json id = c.task == "mbpp" ? nlohmann::json(std::stoi(sub[i].id)) : nlohmann::json(sub[i].id);
      lines += nlohmann::json{{"id", id}, {"response", r}}.dump() + "\n";
    }
    std::string file = tmp + "/" + c.task + ".jsonl";
    write_file_atomic(file, lines);
    auto expect = score_batch(*t, sub, responses, 2);
    size_t correct = 0;
    for (auto& v : expect) correct += v.correct;
    auto r = test::run_t2({"score", c.task, "--responses", file, "--split", c.split, "--data-root", dir, "--json"});
    ASSERT_EQ(r.exit_code, 0) << c.task << ": " << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["correct"].get<size_t>(), correct) << c.task;
    EXPECT_EQ(j["scored"].get<size_t>(), n) << c.task;
    ASSERT_EQ(j["verdicts"].size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(j["verdicts"][i]["id"].get<std::string>(), sub[i].id);
      EXPECT_EQ(j["verdicts"][i]["correct"].get<bool>(), expect[i].correct) << c.task << " " << sub[i].id;
    }
    EXPECT_GT(correct, 0u) << c.task;
    EXPECT_LT(correct, n) << c.task;
    auto text = test::run_t2({"score", c.task, "--responses", file, "--split", c.split, "--data-root", dir});
    EXPECT_NE(text.out.find(fmt::format("({}/{})", correct, n)), std::string::npos) << text.out;
  }
  write_file_atomic(tmp + "/bad.jsonl", "{\"id\": 0, \"response\": \"1\"}\n{\"id\": 999999, \"response\": \"1\"}\n");
  auto bad = test::run_t2({"score", "gsm8k", "--responses", tmp + "/bad.jsonl", "--data-root", dir});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.jsonl:2"), std::string::npos) << bad.err;
  auto unknown = test::run_t2({"score", "gsm9k", "--responses", tmp + "/bad.jsonl"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("gsm8k"), std::string::npos) << unknown.err;
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace t2::tasks
