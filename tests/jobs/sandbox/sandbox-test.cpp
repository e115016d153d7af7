// The sandbox's ordinary behaviour: exit codes, captured output, the harness verdict, limits, the
// environment, parallel runs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <thread>

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

TEST(Sandbox, IsolationMatchesWhatTheMachineAllows) {
  const auto& info = probe_sandbox_support();
  if (::geteuid() != 0) GTEST_SKIP() << "not root: namespaces may be unavailable: " << info.describe();
  EXPECT_TRUE(info.pid_namespace) << info.describe();
  EXPECT_TRUE(info.network_namespace) << info.describe();
  EXPECT_TRUE(info.mount_namespace) << info.describe();
  EXPECT_TRUE(info.unprivileged_uid) << info.describe();
  auto sb = make_sandbox();
  auto r = sb.run_python({{"main.py", "import os\nprint(os.getpid(), os.getuid() != 0)\n"}});
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out, "2 True\n");  // PID 1 is t2's init inside the namespace
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
  auto sb = make_sandbox(30);
  CodeProgram p;
  p.solution = "import time\ndef slow():\n    time.sleep(3)\n    return 1\n";
  p.tests = {"assert slow() == 1"};
  p.test_limits = {0.3};
  auto t0 = Clock::now();
  auto o = run_code_program(sb, p);
  double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_FALSE(o.passed);
  EXPECT_EQ(o.status, "timeout");
  EXPECT_LT(dt, 2.5);
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
