// `t2 run` through the real binary: dry runs print the plan and create nothing, malformed campaigns
// exit 2 with one positioned line per problem, execution without the coordinator exits 3.
#include <gtest/gtest.h>

#include <chrono>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "campaign-fixture.h"
#include "core/subprocess.h"
#include "tests/support/test-support.h"

namespace {

using t2::test::CampaignDir;

class RunCli : public ::testing::Test {
 protected:
  CampaignDir dir;

  // Runs t2 in a fresh working directory (where a relative output directory would appear).
  t2::SubprocessResult t2run(std::vector<std::string> args, const std::string& data_dir = "") {
    std::vector<std::string> argv{t2::test::t2_binary(), "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    t2::SubprocessOptions o;
    o.timeout = t2::Seconds(120);
    o.cwd = cwd();
    o.env_set["T2_DATA_DIR"] = data_dir.empty() ? dir.data() : data_dir;
    return t2::run_subprocess(argv, o);
  }
  std::string cwd() {
    std::string d = dir.root() + "/cwd";
    std::filesystem::create_directories(d);
    return d;
  }
  // Nothing but what the test itself made.
  void expect_nothing_written() {
    EXPECT_TRUE(std::filesystem::is_empty(cwd())) << "t2 run wrote into " << cwd();
  }
  std::string example(const std::string& name) { return t2::test::source_dir() + "/examples/" + name; }
};

size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  size_t n = 0, start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (text.compare(start, prefix.size(), prefix) == 0) ++n;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return n;
}

TEST_F(RunCli, DryRunOfThePaperMatrixPrintsEveryJob) {
  auto r = t2run({example("paper-all.yaml"), "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.describe() << r.err;
  auto j = t2run({example("paper-all.yaml"), "--dry-run", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto plan = nlohmann::json::parse(j.out);
  size_t jobs = plan["jobs"].size();
  // The text form has one line per job id of the JSON form, each with its dependencies.
  for (const auto& job : plan["jobs"]) {
    std::string line = job["id"].get<std::string>() + " ";
    size_t at = r.out.find("\n" + line);
    ASSERT_NE(at, std::string::npos) << line;
    size_t end = r.out.find('\n', at + 1);
    std::string text = r.out.substr(at + 1, end - at - 1);
    for (const auto& d : job["deps"]) EXPECT_NE(text.find(d.get<std::string>()), std::string::npos) << text;
  }
  size_t edges = 0;
  for (const auto& job : plan["jobs"]) edges += job["deps"].size();
  EXPECT_EQ(plan["edges"].size(), edges);
  EXPECT_NE(r.out.find("summary: " + std::to_string(jobs) + " jobs"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines_starting(r.out, "evaluate/"), plan["counts"]["evaluate"].get<size_t>());
  // Models x methods of the paper: 70B has no classifier or few-shot cells.
  EXPECT_EQ(count_lines_starting(r.out, "evaluate/llama3-70b/math/t2_cls"), 0u);
  EXPECT_EQ(count_lines_starting(r.out, "evaluate/mistral-7b/math/t2_cls/seed42 "), 1u);
  expect_nothing_written();
}

TEST_F(RunCli, OverridesOnTheCommandLine) {
  auto one = t2run({example("paper-llama3-8b.yaml"), "--dry-run", "--json"});
  auto two = t2run({example("paper-llama3-8b.yaml"), "seed=[1,2]", "models.llama3-8b.path=/m", "--dry-run", "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(two.out);
  EXPECT_EQ(b["counts"]["train_expert"], 2 * a["counts"]["train_expert"].get<int>());
  EXPECT_EQ(b["counts"]["evaluate"], 2 * a["counts"]["evaluate"].get<int>());
  EXPECT_EQ(b["counts"]["decompose"], a["counts"]["decompose"]);
  EXPECT_EQ(b["config"]["models"]["llama3-8b"]["path"], "/m");
  expect_nothing_written();
}

TEST_F(RunCli, MalformedCampaignExitsTwoWithOnePositionedLine) {
  std::string path = dir.write("name: bad\nmodels: {m: {path: /m, tp: 3}}\ntasks: {gsm8k: {}}\n"
                               "experiments: [{kind: evaluate, tasks: [gsm8k]}]\ndata_dir: @DATA@\n");
  auto r = t2run({path, "--dry-run"});
  EXPECT_EQ(r.exit_code, 2) << r.describe() << r.out << r.err;
  EXPECT_EQ(r.err, "t2: error: " + path + ":2:28: models.m.tp: value 3 is out of range; expected a power of two >= 1 (1, 2, 4, 8, ...)\n");
  auto bad_override = t2run({path, "models.m.tp=2", "experiments.0.lrr=1", "--dry-run"});
  EXPECT_EQ(bad_override.exit_code, 2);
  EXPECT_NE(bad_override.err.find("<override 2>: experiments.evaluate.lrr: unknown key 'lrr'"), std::string::npos)
      << bad_override.err;
  EXPECT_EQ(bad_override.err.find(":2:28:"), std::string::npos) << "override 1 fixed tp: " << bad_override.err;
  expect_nothing_written();
}

TEST_F(RunCli, YamlBombExitsTwoQuickly) {
  // 9 levels of 10 aliases: 10^9 nodes if expanded; refused by the node bound, not by a timeout
  std::string y = "name: t\nlol0: &l0 \"lol\"\n";
  for (int l = 1; l <= 9; ++l) {
    y += "lol" + std::to_string(l) + ": &l" + std::to_string(l) + " [";
    for (int k = 0; k < 10; ++k) y += (k ? ", *l" : "*l") + std::to_string(l - 1);
    y += "]\n";
  }
  std::string path = dir.write(y);
  auto t0 = std::chrono::steady_clock::now();
  auto r = t2run({path, "--dry-run"});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 2) << r.describe() << r.err;
  EXPECT_LT(s, 20.0);
  EXPECT_NE(r.err.find("more than 100000 nodes"), std::string::npos) << r.err;
  expect_nothing_written();
}

TEST_F(RunCli, UsageErrors) {
  EXPECT_EQ(t2run({example("paper-llama3-8b.yaml"), "notanoverride", "--dry-run"}).exit_code, 2);
  EXPECT_EQ(t2run({example("paper-llama3-8b.yaml"), "--json"}).exit_code, 2);  // --json needs --dry-run
  EXPECT_EQ(t2run({dir.root() + "/absent.yaml", "--dry-run"}).exit_code, 2);
  EXPECT_EQ(t2run({"--dry-run"}).exit_code, 2);
  expect_nothing_written();
}

TEST_F(RunCli, ChecksModelFoldersBeforeRunning) {
  // Without --dry-run the model folders must exist: the placeholders are an error (2) ...
  auto r = t2run({example("tiny.yaml")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("models.tiny.path: model folder '/path/to/tiny-llama' does not exist"), std::string::npos) << r.err;
  // ... and so is a folder that is not a model (no config.json), before anything is written.
  auto bad = t2run({example("tiny.yaml"), "models.tiny.path=" + dir.data()});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("models.tiny.path: '" + dir.data() + "' has no config.json"), std::string::npos) << bad.err;
  expect_nothing_written();
}

TEST_F(RunCli, PaperExamplesDryRunOnTheRealData) {
  T2_REQUIRE_DATA(data);
  for (const char* f : {"paper-llama3-8b.yaml", "paper-all.yaml", "tiny.yaml"}) {
    auto r = t2run({example(f), "--dry-run"}, data);
    EXPECT_EQ(r.exit_code, 0) << f << ": " << r.err;
  }
  expect_nothing_written();
}

}  // namespace
