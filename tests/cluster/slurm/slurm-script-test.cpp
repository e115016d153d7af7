// SbatchSpec rendering and validation, and parsers of Slurm's outputs (no cluster needed).
#include <gtest/gtest.h>

#include "cluster/slurm-client.h"
#include "cluster/slurm-script.h"
#include "core/error.h"

namespace {

t2::SbatchSpec spec() {
  t2::SbatchSpec s;
  s.job_name = "t2-sweep";
  s.partition = "gpu";
  s.account = "proj42";
  s.qos = "high";
  s.time = "1-12:00:00";
  s.nodes = 2;
  s.ntasks = 16;
  s.ntasks_per_node = 8;
  s.gpus_per_node = 8;
  s.cpus_per_task = 4;
  s.mem = "0";
  s.env["OMP_NUM_THREADS"] = "1";
  s.setup_lines.push_back("module load cuda");
  s.command = {"/opt/t2/bin/t2", "run", "my campaign.yaml", "--run-dir", "runs/a"};
  return s;
}

std::string usage_error_of(const t2::SbatchSpec& s) {
  try {
    t2::render_sbatch(s);
  } catch (const t2::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SlurmScript, RendersEveryOptionAndTheLaunchLine) {
  const std::string text = t2::render_sbatch(spec());
  EXPECT_EQ(text.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* line :
       {"#SBATCH --job-name=t2-sweep\n", "#SBATCH --partition=gpu\n", "#SBATCH --account=proj42\n",
        "#SBATCH --qos=high\n", "#SBATCH --time=1-12:00:00\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks=16\n",
        "#SBATCH --ntasks-per-node=8\n", "#SBATCH --gpus-per-node=8\n", "#SBATCH --cpus-per-task=4\n",
        "#SBATCH --mem=0\n", "#SBATCH --signal=USR1@120\n", "#SBATCH --requeue\n", "#SBATCH --open-mode=append\n",
        "#SBATCH --output=%x-%A_%a.out\n", "export OMP_NUM_THREADS=1\n", "module load cuda\n",
        "srun --mpi=pmix /opt/t2/bin/t2 run 'my campaign.yaml' --run-dir runs/a\n"})
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  EXPECT_EQ(text.find("--array"), std::string::npos);
  // every #SBATCH line comes before the first command (sbatch stops reading directives there)
  EXPECT_LT(text.rfind("#SBATCH"), text.find("set -eo pipefail"));
}

TEST(SlurmScript, ArrayAndMpirunLauncher) {
  auto s = spec();
  s.array = "0-9%2";
  s.launcher = "mpirun";
  s.command_suffix = "--index \"$SLURM_ARRAY_TASK_ID\"";
  const std::string text = t2::render_sbatch(s);
  EXPECT_NE(text.find("#SBATCH --array=0-9%2\n"), std::string::npos);
  EXPECT_NE(text.find("mpirun -np \"$SLURM_NTASKS\" /opt/t2/bin/t2 run 'my campaign.yaml' --run-dir runs/a --index "
                      "\"$SLURM_ARRAY_TASK_ID\"\n"),
            std::string::npos)
      << text;
}

TEST(SlurmScript, RejectsBadValuesNamingTheField) {
  auto s = spec();
  s.partition = "gpu\n#SBATCH --uid=0";
  EXPECT_NE(usage_error_of(s).find("slurm.partition"), std::string::npos);
  s = spec();
  s.time = "12h";
  EXPECT_NE(usage_error_of(s).find("slurm.time: '12h'"), std::string::npos);
  s = spec();
  s.ntasks = 1;
  EXPECT_NE(usage_error_of(s).find("slurm.ntasks"), std::string::npos);
  s = spec();
  s.array = "0..3";
  EXPECT_NE(usage_error_of(s).find("slurm.array"), std::string::npos);
  s = spec();
  s.open_mode = "apend";
  EXPECT_NE(usage_error_of(s).find("did you mean 'append'"), std::string::npos);
  s = spec();
  s.extra_options = {"--constraint a100"};
  EXPECT_NE(usage_error_of(s).find("slurm.extra_options"), std::string::npos);
  s = spec();
  s.mem = "lots";
  EXPECT_NE(usage_error_of(s).find("slurm.mem"), std::string::npos);
}

TEST(SlurmScript, TimeStrings) {
  EXPECT_EQ(t2::slurm_time_seconds("30"), 1800);
  EXPECT_EQ(t2::slurm_time_seconds("30:15"), 1815);
  EXPECT_EQ(t2::slurm_time_seconds("02:00:00"), 7200);
  EXPECT_EQ(t2::slurm_time_seconds("1-02"), 93600);
  EXPECT_EQ(t2::slurm_time_seconds("1-02:03"), 93780);
  EXPECT_EQ(t2::slurm_time_seconds("1-02:03:04"), 93784);
}

TEST(SlurmScript, ShellQuote) {
  EXPECT_EQ(t2::shell_quote("plain-word_1.yaml"), "plain-word_1.yaml");
  EXPECT_EQ(t2::shell_quote(""), "''");
  EXPECT_EQ(t2::shell_quote("it's $HOME"), "'it'\\''s $HOME'");
}

TEST(SlurmParse, ScontrolShowJobLines) {
  const std::string out =
      "JobId=12 ArrayJobId=11 ArrayTaskId=1 JobName=arr UserId=root(0) JobState=RUNNING Reason=None "
      "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=0:0 Command=/tmp/my dir/x.sh\n"
      "JobId=13 JobName=plain JobState=PENDING Reason=BeginTime Restarts=2 ExitCode=0:0\n";
  const auto jobs = t2::SlurmClient::parse_show_job(out);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].job_id, "11_1");
  EXPECT_EQ(jobs[0].array_task_id, "1");
  EXPECT_EQ(jobs[0].state, "RUNNING");
  EXPECT_FALSE(jobs[0].finished());
  EXPECT_EQ(jobs[1].job_id, "13");
  EXPECT_EQ(jobs[1].reason, "BeginTime");
  EXPECT_EQ(jobs[1].restarts, 2);
}

TEST(SlurmParse, SacctRowsSkipSteps) {
  const auto jobs = t2::SlurmClient::parse_rows("7|COMPLETED|0:0|a\n7.batch|COMPLETED|0:0|batch\n8_2|CANCELLED by 0|0:15|b\n",
                                                "sacct");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs[0].finished());
  EXPECT_EQ(jobs[1].array_job_id, "8");
  EXPECT_EQ(jobs[1].array_task_id, "2");
  EXPECT_TRUE(jobs[1].finished());
  EXPECT_THROW(t2::SlurmClient::parse_rows("garbage\n", "sacct"), t2::FormatError);
}

TEST(SlurmRequeue, BoundedByRestartCountAndOnlyUnderSlurm) {
  t2::SlurmClient client;
  auto d = t2::requeue_self(client, {}, 3);
  EXPECT_FALSE(d.requeued);
  EXPECT_NE(d.why.find("not running under Slurm"), std::string::npos);
  d = t2::requeue_self(client, {{"SLURM_JOB_ID", "5"}, {"SLURM_RESTART_COUNT", "3"}}, 3);
  EXPECT_FALSE(d.requeued);
  EXPECT_EQ(d.restart_count, 3);
  EXPECT_NE(d.why.find("limit is 3"), std::string::npos);
  EXPECT_THROW(t2::requeue_self(client, {{"SLURM_JOB_ID", "5"}, {"SLURM_RESTART_COUNT", "x"}}, 3), t2::UsageError);
}
