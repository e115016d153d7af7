// t2 submit and t2 cancel: the commands of cli/cli-submit.cpp and cli-cancel.cpp, parsed and
// run in-process (the same code the t2 binary runs, without linking the torch libraries). The dry
// run renders one script per resource shape from the campaign's slurm section; a real submission
// against the local Slurm records the jobs in the run directory and t2 cancel cancels them.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using t2::Seconds;

namespace {

// A campaign with a user-defined JSONL task (no external data) and two models of different TP
// degrees: two resource shapes.
std::string write_campaign(const std::string& dir, int gpus_per_node, const std::string& seeds) {
  t2::write_file_atomic(dir + "/qa.jsonl", "{\"question\": \"1+1?\", \"answer\": \"2\"}\n"
                                           "{\"question\": \"2+2?\", \"answer\": \"4\"}\n");
  const std::string yaml = "name: sub\noutput: " + dir + "/run\nseed: " + seeds +
                           "\nmodels:\n"
                           "  small: {path: /nonexistent/small, tp: 1}\n"
                           "  big: {path: /nonexistent/big, tp: 2}\n"
                           "tasks:\n"
                           "  qa: {kind: user, scorer: exact, data: {test: " + dir + "/qa.jsonl}}\n"
                           "experiments:\n"
                           "  - {name: eval, kind: evaluate, tasks: [qa], methods: [base]}\n"
                           "slurm:\n"
                           "  partition: debug\n  account: proj7\n  time: \"00:20:00\"\n  nodes: 1\n"
                           "  gpus_per_node: " + std::to_string(gpus_per_node) +
                           "\n  cpus_per_task: 1\n  signal_seconds: 120\n  extra: [\"#SBATCH --comment=t2test\"]\n";
  t2::write_file_atomic(dir + "/campaign.yaml", yaml);
  return dir + "/campaign.yaml";
}

constexpr const char* kT2 = "/opt/t2/bin/t2";  // the binary the rendered scripts launch

struct CliResult {
  int exit_code = 0;
  std::string out, err;
  std::string describe() const { return "exit " + std::to_string(exit_code) + ": " + err; }
  bool ok() const { return exit_code == 0; }
};

// Parses and runs `t2 <args>` with the submit and cancel commands; errors map to exit codes as in
// cli-main.cpp (t2::Error::code(), CLI11 parse errors 2).
CliResult run_cli(const std::vector<std::string>& args) {
  CLI::App app{"t2"};
  app.require_subcommand(1);
  const t2::cli::Command submit = t2::cli::add_submit_command(app);
  const t2::cli::Command cancel = t2::cli::add_cancel_command(app);
  std::vector<std::string> full{"t2"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : full) argv.push_back(a.c_str());
  CliResult r;
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.exit_code = submit.app->parsed() ? submit.run() : cancel.run();
  } catch (const CLI::ParseError& e) {
    r.exit_code = 2;
    r.err = e.what();
  } catch (const t2::Error& e) {
    r.exit_code = static_cast<int>(e.code());
    r.err = e.what();
  }
  std::cout.rdbuf(old);
  r.out = out.str();
  return r;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

class Submit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t2::test::make_temp_dir("submit");
  }
  void TearDown() override {
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  std::string dir_;
};

}  // namespace

TEST_F(Submit, DryRunRendersOneScriptPerShape) {
  const std::string campaign = write_campaign(dir_, 4, "[1, 2]");
  const auto r = run_cli({"submit", campaign, "--dry-run", "--t2", kT2});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  const std::string& out = r.out;
  EXPECT_EQ(count(out, "#!/bin/bash\n"), 2u) << out;
  EXPECT_NE(out.find("#SBATCH --job-name=t2-sub-tp1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("#SBATCH --job-name=t2-sub-tp2\n"), std::string::npos) << out;
  EXPECT_EQ(count(out, "#SBATCH --partition=debug\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --account=proj7\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --time=00:20:00\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --gpus-per-node=4\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --ntasks=4\n"), 2u);  // one task per GPU
  EXPECT_EQ(count(out, "#SBATCH --signal=USR1@120\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --requeue\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --open-mode=append\n"), 2u);
  EXPECT_EQ(count(out, "#SBATCH --comment=t2test\n"), 2u);
  EXPECT_EQ(count(out, "/run/slurm/logs/%x-%A_%a.out\n"), 2u);
  // the scripts run the campaign frozen in the run directory, never the live file
  EXPECT_EQ(count(out, std::string("srun --mpi=pmix ") + kT2 + " run " + dir_ + "/run/campaign.frozen.yaml"), 2u)
      << out;
  EXPECT_EQ(out.find(" run " + campaign), std::string::npos) << out;
  // each shape keeps only its own models
  EXPECT_NE(out.find("'experiments.eval.models=[small]'"), std::string::npos) << out;
  EXPECT_NE(out.find("'experiments.eval.models=[big]'"), std::string::npos) << out;
  EXPECT_NE(out.find("memory not planned"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ + "/run")) << "a dry run wrote the run directory";
}

TEST_F(Submit, DryRunArrayOverSeeds) {
  const std::string campaign = write_campaign(dir_, 0, "[3, 5, 8]");
  const auto r = run_cli({"submit", campaign, "--dry-run", "--array"});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  EXPECT_EQ(count(r.out, "#SBATCH --array=0-2\n"), 2u) << r.out;
  EXPECT_EQ(count(r.out, "T2_SEEDS=(3 5 8)\n"), 2u) << r.out;
  EXPECT_EQ(count(r.out, "/run/seed\"${T2_SEED}\"/campaign.frozen.yaml"), 2u) << r.out;
  EXPECT_EQ(r.out.find("--gpus-per-node"), std::string::npos) << r.out;  // CPU campaign
}

TEST_F(Submit, BadCampaignIsAUsageError) {
  const std::string campaign = write_campaign(dir_, 4, "[1]");
  auto r = run_cli({"submit", campaign, "--dry-run", "slurm.time=soon"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = run_cli({"submit", campaign, "--dry-run", "--array"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("seed sweep"), std::string::npos) << r.err;
  r = run_cli({"cancel", dir_ + "/no-such-run"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

TEST_F(Submit, SubmitHeldThenCancelThroughTheRunDirectory) {
  if (!fs::exists("/usr/bin/sbatch")) GTEST_SKIP() << "Slurm is not installed: slurm test skipped";
  if (!std::getenv("SLURM_CONF")) setenv("SLURM_CONF", "/tmp/t2-slurm-local/slurm.conf", 1);
  const std::string campaign = write_campaign(dir_, 0, "[1]");
  auto r = run_cli({"submit", campaign, "--hold", "--t2", kT2});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  const auto jobs = t2::read_submitted_jobs(dir_ + "/run");
  ASSERT_EQ(jobs.size(), 2u) << r.out;
  EXPECT_TRUE(fs::exists(dir_ + "/run/slurm/t2-sub-tp1.sbatch"));
  EXPECT_TRUE(fs::exists(dir_ + "/run/slurm/t2-sub-tp2.sbatch"));
  t2::SlurmClient client;
  for (const auto& j : jobs) {
    const auto shown = client.show_job(j.job_id);
    ASSERT_TRUE(shown.has_value()) << j.job_id;
    EXPECT_EQ(shown->at(0).state, "PENDING") << j.job_id;  // held
  }
  r = run_cli({"cancel", dir_ + "/run"});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  EXPECT_NE(r.out.find("2 of 2 job(s) cancelled"), std::string::npos) << r.out;
  for (const auto& j : jobs) {
    const auto done = client.wait_until(
        j.job_id, [](const t2::SlurmJob& s) { return s.finished(); }, t2::Deadline::after(Seconds(30)), "cancelling");
    EXPECT_EQ(done.at(0).state, "CANCELLED");
  }
}
