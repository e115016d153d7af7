// Against a real local Slurm (scripts/slurm-local, started by the ctest fixture slurm): rendered
// scripts submitted with sbatch, MPI under srun --mpi=pmix and under mpirun in the allocation, a job
// array, scancel, and the preemption flow (SIGUSR1 -> requeue_self -> second start with
// SLURM_RESTART_COUNT=1). Skipped only when Slurm is not installed; a cluster that does not answer
// is a failure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cluster/slurm-script.h"
#include "core/files.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using t2::Seconds;

namespace {

bool slurm_installed() { return fs::exists("/usr/sbin/slurmctld") && fs::exists("/usr/bin/sbatch"); }

class SlurmCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!slurm_installed()) GTEST_SKIP() << "Slurm is not installed (scripts/install-deps): slurm test skipped";
    if (!std::getenv("SLURM_CONF")) setenv("SLURM_CONF", "/tmp/t2-slurm-local/slurm.conf", 1);
    t2::SubprocessOptions o;
    o.timeout = Seconds(20);
    const auto ping = t2::run_subprocess({"scontrol", "ping"}, o);
    ASSERT_TRUE(ping.ok() && ping.out.find("UP") != std::string::npos)
        << "the local Slurm does not answer (SLURM_CONF=" << std::getenv("SLURM_CONF")
        << "): start it with scripts/slurm-local start (ctest's slurm fixture does); scontrol ping said: " << ping.out
        << ping.err;
    dir_ = t2::test::make_temp_dir("slurm");
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  t2::SbatchSpec base(const std::string& name) const {
    t2::SbatchSpec s;
    s.job_name = name;
    s.time = "5";
    s.chdir = dir_;
    s.overcommit = true;  // the test node may have fewer cores than tasks
    return s;
  }

  std::string submit(const t2::SbatchSpec& s) {
    const std::string path = dir_ + "/" + s.job_name + ".sbatch";
    t2::write_file_atomic(path, t2::render_sbatch(s));
    return client_.submit(path);
  }

  // The log files of a job (pattern %x-%A_%a.out), concatenated in name order.
  std::string logs(const std::string& name, const std::string& job) const {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().rfind(name + "-" + job + "_", 0) == 0) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += t2::read_file(f);
    return all;
  }

  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }

  static bool finished(const t2::SlurmJob& j) { return j.finished(); }
  static bool running(const t2::SlurmJob& j) { return j.state == "RUNNING"; }

  t2::SlurmClient client_;
  std::string dir_;
};

TEST_F(SlurmCluster, MpiHelloUnderSrunPmix) {
  auto s = base("hello-srun");
  s.ntasks = 2;
  s.command = {T2_SLURM_MPI_HELLO};
  const std::string job = submit(s);
  const auto jobs = client_.wait_until(job, finished, t2::Deadline::after(Seconds(300)), "finishing");
  ASSERT_EQ(jobs.size(), 1u);
  const std::string out = logs("hello-srun", job);
  EXPECT_EQ(jobs[0].state, "COMPLETED") << out;
  EXPECT_EQ(count(out, "of 2 allreduce sum=2"), 2u) << out;
  EXPECT_NE(out.find("hello rank 0 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("hello rank 1 of 2"), std::string::npos) << out;
  EXPECT_EQ(count(out, "layout: world 2 (slurm)"), 2u) << out;  // WorldLayout::detect under srun
  EXPECT_NE(out.find("t2: job " + job + " array task none start 0"), std::string::npos) << out;
}

TEST_F(SlurmCluster, MpiHelloUnderMpirunInTheAllocation) {
  auto s = base("hello-mpirun");
  s.ntasks = 2;
  s.launcher = "mpirun";
  s.env = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"}, {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}};
  s.command = {T2_SLURM_MPI_HELLO};
  const std::string job = submit(s);
  const auto jobs = client_.wait_until(job, finished, t2::Deadline::after(Seconds(300)), "finishing");
  const std::string out = logs("hello-mpirun", job);
  EXPECT_EQ(jobs.at(0).state, "COMPLETED") << out;
  EXPECT_EQ(count(out, "of 2 allreduce sum=2"), 2u) << out;
}

TEST_F(SlurmCluster, ArrayOfThreeTasks) {
  auto s = base("arr");
  s.array = "0-2";
  s.command = {"sh", "-c", "echo task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"};
  const std::string job = submit(s);
  const auto jobs = client_.wait_until(job, finished, t2::Deadline::after(Seconds(300)), "finishing");
  ASSERT_EQ(jobs.size(), 3u);
  for (int t = 0; t < 3; ++t) {
    const std::string file = dir_ + "/arr-" + job + "_" + std::to_string(t) + ".out";
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_NE(t2::read_file(file).find("task=" + std::to_string(t) + " of 3"), std::string::npos);
  }
  for (const auto& j : jobs) EXPECT_EQ(j.state, "COMPLETED") << j.job_id;
  // the job-completion file knows them too (sacct -c works without slurmdbd)
  const auto acct = client_.accounting({job});
  EXPECT_GE(acct.size(), 1u);
}

TEST_F(SlurmCluster, CancelStopsARunningJob) {
  auto s = base("sleeper");
  s.command = {"sleep", "300"};
  const std::string job = submit(s);
  client_.wait_until(job, running, t2::Deadline::after(Seconds(300)), "starting");
  const auto q = client_.queue({job});
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].state, "RUNNING");
  const auto t0 = t2::Clock::now();
  client_.cancel({job});
  const auto jobs = client_.wait_until(job, finished, t2::Deadline::after(Seconds(300)), "cancelling");
  EXPECT_EQ(jobs.at(0).state, "CANCELLED");
  EXPECT_LT(std::chrono::duration_cast<Seconds>(t2::Clock::now() - t0).count(), 20.0);
}

TEST_F(SlurmCluster, CancelRunJobsCancelsOnlyLiveJobsOfTheRun) {
  auto done = base("quick");
  done.command = {"true"};
  const std::string quick = submit(done);
  auto s = base("sleeper2");
  s.command = {"sleep", "300"};
  const std::string sleeper = submit(s);
  t2::record_submitted_job(dir_, {quick, "quick.sbatch", "test", "", ""});
  t2::record_submitted_job(dir_, {sleeper, "sleeper2.sbatch", "test", "", ""});
  client_.wait_until(quick, finished, t2::Deadline::after(Seconds(300)), "finishing");
  client_.wait_until(sleeper, running, t2::Deadline::after(Seconds(300)), "starting");
  EXPECT_EQ(t2::cancel_run_jobs(dir_, client_), std::vector<std::string>{sleeper});
  client_.wait_until(sleeper, finished, t2::Deadline::after(Seconds(300)), "cancelling");
  const auto states = t2::run_job_states(dir_, client_);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].tasks.at(0).state, "COMPLETED");
  EXPECT_EQ(states[1].tasks.at(0).state, "CANCELLED");
  EXPECT_TRUE(t2::cancel_run_jobs(dir_, client_).empty());  // nothing left to cancel
}

TEST_F(SlurmCluster, PreemptedJobRequeuesItselfAndResumes) {
  auto s = base("preempt");
  s.command = {T2_SLURM_PREEMPT_HELPER};
  const std::string job = submit(s);
  client_.wait_until(job, running, t2::Deadline::after(Seconds(300)), "starting");
  // send the signal only once the helper has installed its handlers
  const auto ready_by = t2::Deadline::after(Seconds(300));
  while (logs("preempt", job).find("ready restart=0") == std::string::npos) {
    ASSERT_FALSE(ready_by.expired()) << "helper never became ready:\n" << logs("preempt", job);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  client_.cancel({job}, "USR1");  // what --signal=USR1@120 does before the time limit
  const auto jobs = client_.wait_until(
      job, [](const t2::SlurmJob& j) { return j.finished() && j.restarts >= 1; }, t2::Deadline::after(Seconds(300)),
      "requeue and second start");
  const std::string out = logs("preempt", job);
  EXPECT_EQ(jobs.at(0).state, "COMPLETED") << out;
  EXPECT_EQ(jobs.at(0).restarts, 1) << out;
  EXPECT_NE(out.find("got signal 10"), std::string::npos) << out;
  EXPECT_NE(out.find("requeued job " + job + " (restart 1 of at most 1)"), std::string::npos) << out;
  EXPECT_NE(out.find("start 1 on"), std::string::npos) << out;  // the script's line of the second start
  EXPECT_NE(out.find("resumed restart=1"), std::string::npos) << out;
  EXPECT_EQ(out.find("requeue did not stop the job"), std::string::npos) << out;
}

}  // namespace
