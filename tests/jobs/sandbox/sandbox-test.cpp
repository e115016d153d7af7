// The sandbox's ordinary behaviour: exit codes, captured output, the harness verdict, limits, the
// environment, parallel runs.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "jobs/sandbox-harness.h"
#include "jobs/sandbox.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

Sandbox make_sandbox(double wall = 10) {
  SandboxOptions o;
  o.limits.wall = Seconds(wall);
  return Sandbox(o);
}

TEST(Sandbox, RunsAProgramAndCapturesOutput) {
  auto sb = make_sandbox();
  auto r = sb.run_python({{"main.py", "import sys\nprint('hello', 6*7)\nsys.stderr.write('err\\n')\n"}});
  EXPECT_TRUE(r.ok()) << r.describe() << r.err;
  EXPECT_EQ(r.out, "hello 42\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(Sandbox, ReportsExitCodesAndSignals) {
  auto sb = make_sandbox();
  auto r = sb.run_python({{"main.py", "import sys\nsys.exit(3)\n"}});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 3);
  auto k = sb.run_python({{"main.py", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"}});
  EXPECT_FALSE(k.exited);
  EXPECT_EQ(k.signal, SIGSEGV) << k.describe();
}

TEST(Sandbox, WorkingDirectoryIsFreshAndHoldsTheFiles) {
  auto sb = make_sandbox();
  auto r = sb.run_python({{"main.py", "import os\nprint(sorted(os.listdir('.')))\nprint(open('data.txt').read())\n"
                                       "open('new.txt','w').write('x')\n"},
                          {"data.txt", "payload"}});
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  EXPECT_EQ(r.out, "['data.txt', 'main.py']\npayload\n");
  // a second run does not see the first one's file
  auto r2 = sb.run_python({{"main.py", "import os\nprint(sorted(os.listdir('.')))\n"}});
  EXPECT_EQ(r2.out, "['main.py']\n");
}

TEST(Sandbox, EnvironmentIsScrubbed) {
  ::setenv("T2_SANDBOX_TEST_VISIBLE", "parent-only", 1);
  auto sb = make_sandbox();
  auto r = sb.run_python({{"main.py", "import os\nprint(sorted(os.environ))\nprint(os.environ['HOME'] == os.getcwd())\n"}});
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out.find("T2_SANDBOX_TEST_VISIBLE"), std::string::npos);
  EXPECT_NE(r.out.find("'PATH'"), std::string::npos);
  EXPECT_NE(r.out.find("True"), std::string::npos);
}

TEST(Sandbox, IsolationIsNamespacesForEveryUser) {
  // the default requires namespaces: constructing the sandbox throws where they are unavailable
  auto sb = make_sandbox();
  const auto& info = sb.info();
  EXPECT_EQ(info.level, SandboxIsolation::namespaces) << info.describe();
  EXPECT_TRUE(info.user_namespace && info.pid_namespace && info.network_namespace && info.mount_namespace)
      << info.describe();
  EXPECT_EQ(info.private_uid, ::geteuid() == 0);
  auto r = sb.run_python({{"main.py", "import os, socket\nlinks = ('bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32')\n"
                                      "print(os.getpid(), os.getuid(), os.getcwd(), sorted(d for d in os.listdir('/') "
                                      "if d not in links), socket.gethostname())\n"}});
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  // PID 1 is bwrap's reaper; uid 1000 inside the user namespace; only the sandbox's own root (no
  // home, run directory, project tree or host /tmp)
  EXPECT_EQ(r.out, "2 1000 /sandbox ['dev', 'etc', 'proc', 'sandbox', 'usr'] t2-sandbox\n");
}

TEST(Sandbox, StdinDataReachesTheProgram) {
  auto sb = make_sandbox();
  std::string big(300000, 'x');  // more than a socket buffer: written while the program reads
  auto r = sb.run_python({{"main.py", "import sys\nd = sys.stdin.read()\nprint(len(d), d[:3])\n"}}, {}, nullptr,
                         "abc" + big);
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  EXPECT_EQ(r.out, std::to_string(3 + big.size()) + " abc\n");
  auto empty = sb.run_python({{"main.py", "import sys\nprint(repr(sys.stdin.read()))\n"}});
  EXPECT_EQ(empty.out, "''\n");
}

TEST(Sandbox, IsolationLevelsParseAndPrint) {
  EXPECT_EQ(parse_sandbox_isolation("namespaces"), SandboxIsolation::namespaces);
  EXPECT_EQ(parse_sandbox_isolation("rlimits"), SandboxIsolation::rlimits);
  EXPECT_EQ(to_string(SandboxIsolation::rlimits), "rlimits");
  EXPECT_THROW(parse_sandbox_isolation("none"), UsageError);
}

TEST(Sandbox, FailsClosedWhenNamespacesAreUnavailable) {
  // a bwrap that cannot create namespaces stands for a kernel that refuses them
  std::string dir = test::make_temp_dir("sandbox-no-userns");
  std::string fake = dir + "/bwrap";
  {
    std::ofstream o(fake);
    o << "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not "
         "allow non-privileged user namespaces.' >&2\nexit 1\n";
  }
  ::chmod(fake.c_str(), 0755);
  ::chmod(dir.c_str(), 0755);  // as root the supervisor runs it as a private uid
  SandboxOptions o;
  o.bwrap = fake;
  try {
    Sandbox sb(o);
    ADD_FAILURE() << "a sandbox without namespaces was built: " << sb.info().describe();
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("user.max_user_namespaces"), std::string::npos) << m;
    EXPECT_NE(m.find("isolation: rlimits"), std::string::npos) << m;
    EXPECT_NE(m.find("No permissions to creating new namespace"), std::string::npos) << m;
  }
  // the explicit opt-out runs, and says what it is
  o.isolation = SandboxIsolation::rlimits;
  Sandbox sb(o);
  EXPECT_EQ(sb.info().level, SandboxIsolation::rlimits);
  auto r = sb.run_python({{"main.py", "print('ran')\n"}});
  EXPECT_EQ(r.out, "ran\n") << r.err;
  std::filesystem::remove_all(dir);
}

TEST(Sandbox, OutputIsCapped) {
  SandboxOptions o;
  o.limits.max_output_bytes = 1000;
  Sandbox sb(o);
  auto r = sb.run_python({{"main.py", "print('y' * 5000)\n"}});
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.out.size(), 1000u);
}

TEST(SandboxHarness, PassingAndFailingTests) {
  auto sb = make_sandbox();
  CodeProgram p;
  p.solution = "def add(a, b):\n    return a + b\n";
  p.tests = {"assert add(1, 2) == 3", "assert add('a', 'b') == 'ab'"};
  p.test_limits = {2, 2};
  auto ok = run_code_program(sb, p);
  EXPECT_TRUE(ok.passed) << ok.status << ": " << ok.error;
  EXPECT_EQ(ok.test_seconds.size(), 2u);

  p.tests.push_back("assert add(2, 2) == 5");
  p.test_limits.push_back(2);
  auto bad = run_code_program(sb, p);
  EXPECT_FALSE(bad.passed);
  EXPECT_EQ(bad.status, "failed");
  EXPECT_EQ(bad.failed_test, 2);
  EXPECT_NE(bad.error.find("AssertionError"), std::string::npos) << bad.error;

  CodeProgram syntax;
  syntax.solution = "def add(a, b) return a + b\n";
  syntax.tests = {"assert add(1, 2) == 3"};
  syntax.test_limits = {2};
  auto s = run_code_program(sb, syntax);
  EXPECT_FALSE(s.passed);
  EXPECT_NE(s.error.find("SyntaxError"), std::string::npos) << s.error;
}

TEST(SandboxHarness, PerTestTimeLimit) {
  auto sb = make_sandbox(200);  // the program wall limit, far above the per-test limit
  CodeProgram p;
  p.solution = "import time\ndef slow():\n    time.sleep(300)\n    return 1\n";
  p.tests = {"assert slow() == 1"};
  p.test_limits = {0.3};
  auto t0 = Clock::now();
  auto o = run_code_program(sb, p);
  double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_FALSE(o.passed);
  EXPECT_EQ(o.status, "timeout");
  // Ending well before the 200 s wall limit means the 0.3 s per-test limit cut the 300 s sleep.
  EXPECT_LT(dt, 100) << "the 300 s test was not cut at its 0.3 s limit";
}

TEST(SandboxHarness, InputOutputTestsAgainstAReference) {
  auto sb = make_sandbox();
  CodeProgram p;
  p.reference = "def f(xs, k):\n    return sorted(xs)[:k]\n";
  p.entry_point = "f";
  p.inputs = nlohmann::json::parse("[[[3,1,2],2],[[5,4],1],[[],0]]");
  p.solution = "def f(xs, k):\n    return sorted(xs)[:k]\n";
  p.min_limit = 1;
  p.limit_factor = 4;
  EXPECT_TRUE(run_code_program(sb, p).passed);
  p.solution = "def f(xs, k):\n    return xs[:k]\n";
  auto o = run_code_program(sb, p);
  EXPECT_FALSE(o.passed);
  EXPECT_EQ(o.failed_test, 0);
  // floats within atol
  p.reference = "def f(x):\n    return x / 3\n";
  p.inputs = nlohmann::json::parse("[[1.0],[2.0]]");
  p.solution = "def f(x):\n    return x * (1/3)\n";
  EXPECT_TRUE(run_code_program(sb, p).passed);
}

// Processes whose command line contains `marker`, other than this test binary.
std::vector<int> pids_with(const std::string& marker) {
  std::vector<int> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos && cmd.find("t2_sandbox_tests") == std::string::npos)
      out.push_back(std::stoi(name));
  }
  return out;
}

// A kill -9 of t2 (here: a forked child holding a run lock like `t2 run`) takes the supervisor and
// the program with it, and no sandbox process ever holds the lock's file descriptor.
TEST(SandboxLifecycle, DiesWithT2AndNeverHoldsItsLock) {
  std::string dir = test::make_temp_dir("sandbox-lock");
  ::chmod(dir.c_str(), 0755);
  const std::string lock = dir + "/run.lock";
  const std::string marker = "t2-lifecycle-" + std::to_string(::getpid());
  pid_t t2 = ::fork();
  ASSERT_GE(t2, 0);
  if (t2 == 0) {
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);  // inheritable, as a careless lock would be
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(3);
    SandboxOptions o;
    o.limits.wall = Seconds(60);
    Sandbox sb(o);
    sb.run_python({{"main.py", "import time\ntime.sleep(60)\n"}}, {marker});
    ::_exit(0);
  }
  // wait for the program, then look at every descriptor of every sandbox process
  std::vector<int> pids;
  for (int i = 0; i < 1200 && pids.size() < 2; ++i) {  // up to 60 s: a loaded machine starts slowly
    ::usleep(50000);
    pids = pids_with(marker);
  }
  ASSERT_GE(pids.size(), 2u) << "the sandboxed program did not start";
  int checked = 0;
  for (int pid : pids) {
    std::error_code ec;
    for (auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
      std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      EXPECT_NE(target, lock) << "sandbox process " << pid << " holds the run lock as fd " << fd.path().filename();
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
  ::kill(t2, SIGKILL);
  int st;
  ::waitpid(t2, &st, 0);
  bool gone = false;
  for (int i = 0; i < 1200 && !gone; ++i) {
    gone = pids_with(marker).empty();
    if (!gone) ::usleep(50000);
  }
  std::string left;
  for (int pid : pids_with(marker)) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    std::string line, info;
    while (std::getline(st, line))
      if (line.rfind("State:", 0) == 0 || line.rfind("PPid:", 0) == 0 || line.rfind("Name:", 0) == 0) info += line + " ";
    left += std::to_string(pid) + ": " + info + "\n";
  }
  EXPECT_TRUE(gone) << "sandbox processes outlived t2:\n" << left;
  int fd = ::open(lock.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the run lock is still held after t2 died";
  ::close(fd);
  std::filesystem::remove_all(dir);
}

TEST(Sandbox, ManyProgramsInParallel) {
  auto sb = make_sandbox();
  std::vector<std::thread> th;
  std::vector<std::string> outs(8);
  for (int i = 0; i < 8; ++i)
    th.emplace_back([&, i] {
      auto r = sb.run_python({{"main.py", "print(" + std::to_string(i) + " * 3)\n"}});
      outs[size_t(i)] = r.out;
    });
  for (auto& t : th) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(outs[size_t(i)], std::to_string(i * 3) + "\n");
}

}  // namespace
}  // namespace t2::tasks
