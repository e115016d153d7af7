// Crash safety: a writer is killed with SIGKILL at >= 20 random (seeded) instants. The kills are
// paced by the writer's progress, not by the clock: each round waits for k (0-3) new durable units,
// which the writer reports on a pipe, then for a random fraction of a unit's measured duration, so
// the kills land inside the work on a machine of any speed. After each kill every HDF5 file of the run must open with the C API and with h5dump, every unit present must hold
// exactly the content the writer produces for it, batches and generations must be contiguous and
// checkpoints monotone, and nothing finished before the kill may be lost. Then the writer runs to
// the end and the final run is checked in full.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "crash-writer-content.h"
#include "core/deadline.h"
#include "core/subprocess.h"
#include "results/run-layout.h"
#include "results/run-store.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using namespace t2;
using namespace t2::results;

namespace {

// 500 units; the kill rounds below consume at most 3 each (at most 60 rounds), so the writer never
// finishes during the kill phase, however fast the machine.
constexpr int64_t n_batches = 200, n_steps = 200, n_gens = 100;

struct TempDir {
  std::string path = test::make_temp_dir("crash");
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::string> writer_argv(const std::string& dir) {
  return {T2_CRASH_WRITER, dir, std::to_string(n_batches), std::to_string(n_steps), std::to_string(n_gens)};
}

// Starts the writer; with progress_fd >= 0 the child gets it as fd 3 and is told to report there.
pid_t spawn(std::vector<std::string> argv, int progress_fd = -1) {
  if (progress_fd >= 0) argv.push_back("3");
  pid_t pid = ::fork();
  if (pid == 0) {
    if (progress_fd >= 0) {
      if (::dup2(progress_fd, 3) < 0) ::_exit(126);
      if (progress_fd != 3) ::close(progress_fd);
    }
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for the child with a deadline; returns the wait status.
int reap(pid_t pid, Deadline deadline) {
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (deadline.expired()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "writer " << pid << " did not end before its deadline";
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

struct Progress {
  int64_t batches = 0, step = 0, gens = 0;
  int64_t units() const { return batches + step + gens; }
};

using Clock = std::chrono::steady_clock;

// Reads the writer's progress pipe until `want` more units have been reported, the writer closed it
// (it exited), or the deadline passed (a hang: reported as a failure). Returns the units read and
// records the time of the last one.
int64_t wait_units(int fd, int64_t want, Deadline deadline, Clock::time_point& last_unit) {
  int64_t got = 0;
  while (got < want) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) {
      char buf[64];
      ssize_t n = ::read(fd, buf, static_cast<size_t>(std::min<int64_t>(want - got, sizeof buf)));
      if (n == 0) break;  // writer exited
      if (n > 0) {
        got += n;
        last_unit = Clock::now();
      }
    }
    if (deadline.expired()) {
      ADD_FAILURE() << "the writer reported no progress before its deadline";
      break;
    }
  }
  return got;
}

// Checks everything on disk; returns how far the run got.
Progress check_run(const std::string& dir) {
  Progress p;
  if (!fs::exists(dir + "/run.h5")) return p;  // killed before the first unit
  RunReader r(dir);
  auto problems = r.verify();
  EXPECT_TRUE(problems.empty()) << problems.front();

  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".h5" && !layout::is_temp_file(e.path().filename().string()))
      files.push_back(e.path().string());
  std::vector<std::string> argv = {"h5dump", "-H"};
  argv.insert(argv.end(), files.begin(), files.end());
  auto dump = run_subprocess(argv, {.timeout = Seconds(60)});
  EXPECT_TRUE(dump.ok()) << dump.describe() << "\n" << dump.err.substr(0, 2000);

  auto batches = r.eval_batches(crash::eval_job);
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i], static_cast<int64_t>(i)) << "gap or duplicate in evaluation batches";
    auto b = r.read_eval_batch(crash::eval_job, batches[i]);
    auto want = crash::batch(batches[i]);
    EXPECT_EQ(b.first_example, want.first_example);
    EXPECT_EQ(b.records.size(), want.records.size());
    for (size_t k = 0; k < std::min(b.records.size(), want.records.size()); ++k) {
      EXPECT_EQ(b.records[k].example_id, want.records[k].example_id);
      EXPECT_EQ(b.records[k].response, want.records[k].response);
      EXPECT_EQ(b.records[k].score, want.records[k].score);
    }
  }
  p.batches = static_cast<int64_t>(batches.size());

  auto steps = r.checkpoint_steps(crash::train_job);
  EXPECT_LE(steps.size(), 3u) << "old checkpoints not pruned";
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_LT(steps[i - 1], steps[i]);
  if (!steps.empty()) {
    auto c = r.read_checkpoint(crash::train_job, steps.back());
    p.step = c.step;
    const auto& z = c.floats.at("z");
    EXPECT_EQ(z.size(), static_cast<size_t>(crash::z_size));
    for (int i = 0; i < crash::z_size; i += 97) EXPECT_EQ(z[i], crash::z_value(c.step, i));
    EXPECT_EQ(c.ints.at("cursor"), std::vector<int64_t>{c.step * 8});
    // The curve is carried across restarts inside the checkpoints: all steps, each once.
    EXPECT_EQ(c.curve.points.size(), static_cast<size_t>(c.step));
    for (size_t i = 0; i < c.curve.points.size(); ++i) {
      auto want = crash::curve_point(static_cast<int64_t>(i) + 1);
      EXPECT_EQ(c.curve.points[i].step, want.step);
      EXPECT_EQ(c.curve.points[i].reward_mean, want.reward_mean);
    }
  }

  auto gens = r.cem_history(crash::cem_job);
  for (size_t i = 0; i < gens.size(); ++i) {
    EXPECT_EQ(gens[i].generation, static_cast<int64_t>(i));
    EXPECT_EQ(gens[i].best_alpha, crash::generation(gens[i].generation).best_alpha);
  }
  p.gens = static_cast<int64_t>(gens.size());
  return p;
}

}  // namespace

TEST(CrashSafety, SurvivesSigkillAtRandomInstantsAndResumes) {
  if (!test::have_program("h5dump")) GTEST_SKIP() << "h5dump not installed";
  TempDir t;
  std::mt19937 rng(20260501);
  std::uniform_int_distribution<int> units_before_kill(0, 3);
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  // Measured durations (seconds) of a session's start (spawn to first unit) and of one unit; the
  // first guesses only matter until the first round has measured them.
  double start_s = 0.05, unit_s = 0.02;
  Progress last;
  int kills_mid_write = 0, rounds = 0, kills_with_progress = 0;
  while ((kills_mid_write < 20 || kills_with_progress < 5) && rounds < 60) {
    ++rounds;
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    auto t0 = Clock::now();
    pid_t pid = spawn(writer_argv(t.path), pipe_fds[1]);
    ::close(pipe_fds[1]);
    ASSERT_GT(pid, 0);
    // k = 0 kills inside the session's start (lock, run.h5, job files); k > 0 inside the k+1-th unit.
    const int k = units_before_kill(rng);
    auto last_unit = t0;
    int64_t reported = 0;
    if (k > 0) {
      reported = wait_units(pipe_fds[0], 1, Deadline::after(Seconds(300)), last_unit);
      if (reported == 1) start_s = 0.5 * start_s + 0.5 * std::chrono::duration<double>(last_unit - t0).count();
      if (reported == 1 && k > 1) {
        auto before = last_unit;
        int64_t more = wait_units(pipe_fds[0], k - 1, Deadline::after(Seconds(300)), last_unit);
        reported += more;
        if (more > 0)
          unit_s = 0.5 * unit_s + 0.5 * std::chrono::duration<double>(last_unit - before).count() / more;
      }
    }
    const double delay_s = fraction(rng) * (k == 0 ? start_s : unit_s);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
    ::kill(pid, SIGKILL);
    int status = reap(pid, Deadline::after(Seconds(300)));
    // Units reported after the last read are durable too; count them for the loss check below.
    char buf[64];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) reported += n;
    ::close(pipe_fds[0]);
    bool finished = false;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++kills_mid_write;
    else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer failed, status " << status;
      finished = true;  // the writer completed before the kill: no more kills can land
    }
    Progress p = check_run(t.path);
    if (HasFailure()) FAIL() << "after kill " << rounds;
    // Nothing that was finished before the kill is lost, and every unit reported durable is on disk.
    EXPECT_GE(p.batches, last.batches);
    EXPECT_GE(p.step, last.step);
    EXPECT_GE(p.gens, last.gens);
    EXPECT_GE(p.units(), last.units() + reported) << "a unit reported durable is missing after kill " << rounds;
    if (p.batches > last.batches || p.step > last.step) ++kills_with_progress;
    last = p;
    if (finished) break;
  }
  EXPECT_GE(kills_mid_write, 20) << "the writer finished before 20 kills landed";
  EXPECT_GE(kills_with_progress, 5) << "too few kills landed after the writer's start";
  std::cout << "kills during writing: " << kills_mid_write << " (" << kills_with_progress
            << " after new units) in " << rounds << " rounds, progress at the last kill: " << last.batches
            << " batches, step " << last.step << ", " << last.gens << " generations; measured session start "
            << static_cast<int>(start_s * 1000) << " ms, unit " << static_cast<int>(unit_s * 1000) << " ms\n";

  // Run to the end.
  pid_t pid = spawn(writer_argv(t.path));
  int status = reap(pid, Deadline::after(Seconds(600)));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  Progress p = check_run(t.path);
  EXPECT_EQ(p.batches, n_batches);
  EXPECT_EQ(p.step, n_steps);
  EXPECT_EQ(p.gens, n_gens);
  RunReader r(t.path);
  EXPECT_TRUE(r.is_done(crash::eval_job));
  EXPECT_TRUE(r.is_done(crash::train_job));
  EXPECT_TRUE(r.is_done(crash::cem_job));
  // Metrics equal a recount of the deterministic content: every example exactly once.
  double correct = 0;
  for (int64_t k = 0; k < n_batches * crash::batch_size; ++k) correct += crash::record(k).score;
  auto m = r.metrics(crash::eval_job);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->n, n_batches * crash::batch_size);
  EXPECT_DOUBLE_EQ(m->accuracy, correct / (n_batches * crash::batch_size));
  EXPECT_GE(r.meta().sessions, 2);
  for (auto& e : fs::recursive_directory_iterator(t.path))
    EXPECT_FALSE(layout::is_temp_file(e.path().filename().string())) << e.path();
}

TEST(CrashSafety, LiveWriterRefusesASecondProcess) {
  TempDir t;
  RunMeta meta;
  meta.name = "held";
  auto store = RunStore::open_for_write(t.path, meta);
  auto res = run_subprocess(writer_argv(t.path), {.timeout = Seconds(60)});
  EXPECT_TRUE(res.exited);
  EXPECT_EQ(res.exit_code, 1) << res.describe();
  EXPECT_NE(res.err.find("pid " + std::to_string(::getpid())), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("being written by another live t2 process"), std::string::npos) << res.err;
  EXPECT_TRUE(RunReader(t.path).job_ids().empty());
}
