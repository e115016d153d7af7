// Hostile programs: each is run as a "solution" through the test harness and must be contained and
// scored as failed, while this test process survives and nothing outside the sandbox changes.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/files.h"
#include "jobs/sandbox-harness.h"
#include "tests/support/test-support.h"

namespace t2::tasks {
namespace {

namespace fs = std::filesystem;

// Processes whose command line contains `marker` (any pid namespace is visible from here).
int count_processes_with(const std::string& marker) {
  int n = 0;
  for (auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos && cmd.find("sandbox_tests") == std::string::npos) ++n;
  }
  return n;
}

std::string unique_number() {
  static std::mt19937 rng(std::random_device{}());
  return std::to_string(1000000 + rng() % 8000000);
}

class Hostile : public ::testing::Test {
 protected:
  Hostile() {
    SandboxOptions o;
    o.limits.wall = Seconds(8);
    o.limits.memory_bytes = 512ull << 20;  // keep the shared test machine safe; the default is 4 GiB
    sandbox_ = std::make_unique<Sandbox>(o);
  }
  // Runs `attack` as the solution; the single test asserts `attack_succeeded()`.
  CodeOutcome run(const std::string& attack, double test_limit = 5, double solution_limit = 5) {
    CodeProgram p;
    p.solution = attack;
    p.tests = {"assert attack_succeeded()"};
    p.test_limits = {test_limit};
    p.solution_limit = solution_limit;
    marker_ = "t2-hostile-" + unique_number();
    p.args = {marker_};  // visible in /proc/<pid>/cmdline: finds this program's processes
    auto t0 = Clock::now();
    auto o = run_code_program(*sandbox_, p);
    last_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    return o;
  }
  void expect_contained(const CodeOutcome& o) {
    EXPECT_FALSE(o.passed) << o.status << ": " << o.error;
    EXPECT_LT(last_seconds_, 8 + 5 + 3 + 3) << "the deadline was not enforced";
  }
  std::unique_ptr<Sandbox> sandbox_;
  double last_seconds_ = 0;
  std::string marker_;
};

TEST_F(Hostile, ForkBomb) {
  auto o = run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n");
  expect_contained(o);
  EXPECT_EQ(count_processes_with(marker_), 0);
}

TEST_F(Hostile, InfiniteLoop) {
  auto o = run("while True:\n    pass\n");
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
}

TEST_F(Hostile, InfiniteLoopInsideTheTest) {
  auto o = run("def attack_succeeded():\n    while True:\n        pass\n", 0.5);
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
  EXPECT_LT(last_seconds_, 4);
}

TEST_F(Hostile, MemoryBomb) {
  // one huge request against the default 4 GiB RLIMIT_AS
  SandboxOptions dflt;
  Sandbox big(dflt);
  CodeProgram p;
  p.solution = "x = bytearray(8 << 30)\ndef attack_succeeded():\n    return True\n";
  p.tests = {"assert attack_succeeded()"};
  p.test_limits = {5};
  auto o = run_code_program(big, p);
  EXPECT_FALSE(o.passed);
  EXPECT_NE(o.error.find("MemoryError"), std::string::npos) << o.error;
  // a gradual one (the fixture's 512 MiB limit; touching pages is slow on a busy machine, so a
  // deadline may end it first)
  auto g = run("chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 * 1024))\n");
  expect_contained(g);
  EXPECT_TRUE(g.error.find("MemoryError") != std::string::npos || g.status == "timeout") << g.error;
}

TEST_F(Hostile, DiskFillerOneFile) {
  auto o = run("with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * (1 << 20))\n");
  expect_contained(o);
}

TEST_F(Hostile, DiskFillerManyFiles) {
  auto o = run("i = 0\nwhile True:\n    open('f%d' % i, 'wb').write(b'0' * (8 << 20))\n    i += 1\n");
  expect_contained(o);
}

TEST_F(Hostile, NetworkConnect) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  auto o = run("import socket\ns = socket.create_connection(('127.0.0.1', " + std::to_string(port) +
               "), timeout=2)\ns.sendall(b'leak')\ndef attack_succeeded():\n    return True\n");
  expect_contained(o);
  ::fcntl(ls, F_SETFL, O_NONBLOCK);
  EXPECT_LT(::accept(ls, nullptr, nullptr), 0) << "the sandbox reached a socket on the host";
  ::close(ls);
  auto o2 = run("import socket\ns = socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
                "def attack_succeeded():\n    return True\n");
  expect_contained(o2);
}

TEST_F(Hostile, ReadsOutsideTheWorkDir) {
  std::string dir = test::make_temp_dir("hostile-read");
  std::string secret = dir + "/secret.txt";
  write_file_atomic(secret, "top-secret-value");
  ::chmod(secret.c_str(), 0600);
  ::chmod(dir.c_str(), 0755);
  auto o = run("def attack_succeeded():\n    return 'top-secret' in open('" + secret + "').read()\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("top-secret"), std::string::npos);
  auto o2 = run("import os\ndef attack_succeeded():\n    return len(os.listdir('/root')) >= 0\n");
  expect_contained(o2);
  fs::remove_all(dir);
}

TEST_F(Hostile, WritesOutsideTheWorkDir) {
  std::string dir = test::make_temp_dir("hostile-write");
  ::chmod(dir.c_str(), 0777);  // even a world-writable folder stays untouched (read-only mounts)
  std::string n = unique_number();
  std::vector<std::string> targets = {dir + "/planted-" + n, "/tmp/t2-planted-" + n, "/dev/shm/t2-planted-" + n,
                                      "/var/tmp/t2-planted-" + n};
  std::string code = "import os\nok = []\n";
  for (auto& t : targets)
    code += "try:\n    open('" + t + "', 'w').write('x')\n    ok.append(1)\nexcept OSError:\n    pass\n";
  code += "def attack_succeeded():\n    return len(ok) > 0\n";
  auto o = run(code);
  expect_contained(o);
  for (auto& t : targets) EXPECT_FALSE(fs::exists(t)) << t;
  fs::remove_all(dir);
}

TEST_F(Hostile, KillsItsParentAndTheTestProcess) {
  std::string me = std::to_string(::getpid());
  auto o = run("import os, signal\nfor pid in (os.getppid(), " + me + ", 1):\n    try:\n        os.kill(pid, "
               "signal.SIGKILL)\n    except OSError:\n        pass\ntry:\n    os.killpg(os.getpgid(0), signal.SIGKILL)\n"
               "except OSError:\n    pass\n");
  expect_contained(o);
  // still alive: this line runs
  SUCCEED();
}

TEST_F(Hostile, IgnoresSigterm) {
  auto o = run("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, "
               "signal.SIG_IGN)\ntime.sleep(1000)\n", 1, 1);
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
}

TEST_F(Hostile, SetsidDoubleForkEscape) {
  std::string n = unique_number();
  auto o = run("import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', "
               "['sleep', '" + n + "'])\n    os._exit(0)\nimport time\ntime.sleep(0.5)\nos._exit(0)\n");
  expect_contained(o);
  ::usleep(300000);
  EXPECT_EQ(count_processes_with("sleep " + n), 0) << "a daemon escaped the sandbox";
}

TEST_F(Hostile, SpawnsAProcessThatOutlivesIt) {
  std::string n = unique_number();
  auto o = run("import subprocess, os\nsubprocess.Popen(['sleep', '" + n + "'], start_new_session=True, "
               "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nos._exit(0)\n");
  expect_contained(o);
  ::usleep(300000);
  EXPECT_EQ(count_processes_with("sleep " + n), 0) << "a child outlived the sandbox";
}

TEST_F(Hostile, HugeStdout) {
  auto o = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n");
  expect_contained(o);
  EXPECT_TRUE(o.raw.output_truncated);
  EXPECT_LE(o.raw.out.size(), sandbox_->options().limits.max_output_bytes);
}

TEST_F(Hostile, ReadsSecretsFromTheEnvironment) {
  ::setenv("T2_HOSTILE_TEST_TOKEN", "hunter2-secret", 1);
  auto o = run("import os\nprint(dict(os.environ))\ndef attack_succeeded():\n    return any('hunter2' in v for v in "
               "os.environ.values())\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("hunter2"), std::string::npos);
}

TEST_F(Hostile, ChangesTheWorkingDirectorysParent) {
  std::string n = unique_number();
  std::string sentinel = "/tmp/t2-sentinel-" + n;
  write_file_atomic(sentinel, "keep me");
  ::chmod(sentinel.c_str(), 0666);
  auto o = run("import os, shutil\ndone = []\nfor step in ('..', '..'):\n    try:\n        os.chdir(step)\n"
               "    except OSError:\n        pass\nfor act in (lambda: os.remove('t2-sentinel-" + n + "'),\n"
               "            lambda: open('t2-planted-" + n + "', 'w').write('x'),\n"
               "            lambda: shutil.rmtree(os.getcwd())):\n    try:\n        act()\n        done.append(1)\n"
               "    except OSError:\n        pass\ndef attack_succeeded():\n    return bool(done)\n");
  expect_contained(o);
  EXPECT_TRUE(fs::exists(sentinel));
  EXPECT_FALSE(fs::exists("/tmp/t2-planted-" + n));
  fs::remove(sentinel);
}

TEST_F(Hostile, ReadsStdin) {
  auto o = run("data = input()\ndef attack_succeeded():\n    return True\n");
  expect_contained(o);
  EXPECT_NE(o.error.find("EOFError"), std::string::npos) << o.error;
}

TEST_F(Hostile, ExitsSuccessfullyBeforeTheTestsRun) {
  auto o = run("import os\nos._exit(0)\n");
  expect_contained(o);
  auto o2 = run("import sys\nsys.exit(0)\n");
  expect_contained(o2);
}

TEST_F(Hostile, ForgesTheVerdictWithoutTheNonce) {
  auto o = run("import os, json\nos.write(3, b'T2-0000 ' + json.dumps({'ok': True}).encode() + b'\\n')\nos._exit(0)\n");
  expect_contained(o);
}

}  // namespace
}  // namespace t2::tasks

namespace t2::tasks {
namespace {

// Without namespaces (a kernel that forbids them, or use_namespaces: false) the process group, the
// private uid and the rlimits still contain a program; SandboxInfo says what is missing.
TEST(SandboxFallback, WithoutNamespacesEscapesAreStillKilled) {
  if (::geteuid() != 0) GTEST_SKIP() << "the uid-based cleanup needs root";
  SandboxOptions o;
  o.use_namespaces = false;
  o.limits.wall = Seconds(5);
  Sandbox sb(o);
  EXPECT_FALSE(sb.info().pid_namespace);
  EXPECT_FALSE(sb.info().network_namespace);
  EXPECT_NE(sb.info().note.find("disabled"), std::string::npos) << sb.info().describe();
  auto ok = sb.run_python({{"main.py", "import os\nprint(os.getuid() != 0)\n"}});
  EXPECT_TRUE(ok.ok()) << ok.err;
  EXPECT_EQ(ok.out, "True\n");
  std::string n = unique_number();
  auto r = sb.run_python({{"main.py", "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                                       "        os.execvp('sleep', ['sleep', '" + n + "'])\n    os._exit(0)\n"}});
  ::usleep(300000);
  EXPECT_EQ(count_processes_with("sleep " + n), 0);
}

}  // namespace
}  // namespace t2::tasks
