// Hostile programs: each runs as a "solution" through the test harness, must be scored as failed,
// and its harm is checked from outside (files, sockets, processes, sizes). CI runs this binary as
// root and as `nobody` (tests/jobs/sandbox/CMakeLists.txt). At the end a table lists each program,
// what it tried and what stopped it.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "core/files.h"
#include "jobs/sandbox-harness.h"
#include "tests/support/test-support.h"

extern char** environ;

namespace t2::tasks {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::string program, tried, stopped_by;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

class TablePrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    if (rows().empty()) return;
    std::cout << "\nHostile programs as uid " << ::geteuid() << " (" << rows().size() << "):\n";
    std::cout << fmt::format("{:<32} | {:<60} | {}\n", "program", "what it tried", "what stopped it");
    std::cout << std::string(32, '-') << "-+-" << std::string(60, '-') << "-+-" << std::string(50, '-') << "\n";
    for (auto& r : rows()) std::cout << fmt::format("{:<32} | {:<60} | {}\n", r.program, r.tried, r.stopped_by);
  }
};
[[maybe_unused]] auto* const g_table = ::testing::AddGlobalTestEnvironment(new TablePrinter);

// Processes whose command line contains `marker` (any pid namespace is visible from here).
int count_processes_with(const std::string& marker) {
  int n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos && cmd.find("t2_sandbox_tests") == std::string::npos) ++n;
  }
  return n;
}

// Waits (up to 60 s, only to catch a leak) until no process's command line contains `pattern`;
// returns how many are left. Teardown of a PID namespace is asynchronous, so poll, never sleep once.
int wait_processes_gone(const std::string& pattern) {
  const auto until = Clock::now() + std::chrono::seconds(60);
  int left = count_processes_with(pattern);
  while (left > 0 && Clock::now() < until) {
    ::usleep(20000);
    left = count_processes_with(pattern);
  }
  return left;
}

std::string unique_number() {
  static std::mt19937 rng(std::random_device{}());
  return std::to_string(1000000 + rng() % 8000000);
}

// A process of the test's own (`sleep 120` with `env` in its environment), killed by the destructor.
struct Bystander {
  pid_t pid = -1;
  explicit Bystander(const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv_s = {"/bin/sleep", "120"};
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    if (::posix_spawn(&pid, "/bin/sleep", nullptr, nullptr, argv.data(), envp.data()) != 0) pid = -1;
    ::usleep(50000);
  }
  bool alive() const {
    int st;
    return pid > 0 && ::waitpid(pid, &st, WNOHANG) == 0;
  }
  bool traced() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("TracerPid:", 0) == 0) return line.find_first_of("123456789") != std::string::npos;
    return false;
  }
  ~Bystander() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st;
      ::waitpid(pid, &st, 0);
    }
  }
};

class Hostile : public ::testing::Test {
 protected:
  Hostile() {
    SandboxOptions o;
    o.limits.wall = Seconds(8);
    o.limits.memory_bytes = 512ull << 20;  // keep the shared test machine safe; the default is 4 GiB
    sandbox_ = std::make_unique<Sandbox>(o);
  }
  // Runs `attack` as the solution; the test (run by the judge) asserts `test`.
  CodeOutcome run(const std::string& attack, double test_limit = 5, double solution_limit = 5,
                  const std::string& test = "assert attack_succeeded()") {
    CodeProgram p;
    p.solution = attack;
    p.tests = {test};
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
  // One row of the table; `outcome` is what the harness saw.
  void record(const std::string& tried, const std::string& stopped_by, const CodeOutcome& o) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string seen = o.status + (o.error.empty() ? "" : ": " + o.error);
    for (auto& c : seen)
      if (c == '\n') c = ' ';
    if (seen.size() > 70) seen = seen.substr(0, 70) + "...";
    rows().push_back({name, tried, stopped_by + " [" + seen + "]"});
  }
  std::unique_ptr<Sandbox> sandbox_;
  double last_seconds_ = 0;
  std::string marker_;
};

TEST_F(Hostile, HonestControlPasses) {
  // the same fixture passes an honest program: the failures below are the attacks', not the harness's
  auto o = run("def attack_succeeded():\n    return True\n");
  EXPECT_TRUE(o.passed) << o.status << ": " << o.error;
}

TEST_F(Hostile, ReadsAFileInTheUsersHome) {
  std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
  std::string n = unique_number();
  std::string secret = home + "/.t2-hostile-secret-" + n;
  std::string made_dir;
  auto can_write = [](const std::string& path) { return std::ofstream(path).good(); };
  if (home.empty() || !can_write(secret)) {  // e.g. nobody's /nonexistent: a home of our own
    made_dir = test::make_temp_dir("hostile-home");
    home = made_dir;
    secret = home + "/.t2-hostile-secret-" + n;
  }
  write_file_atomic(secret, "top-secret-value-" + n);
  ::chmod(secret.c_str(), 0600);
  auto o = run("import os\nfound = []\nfor p in ['" + secret + "', os.path.expanduser('~/.t2-hostile-secret-" + n +
               "')]:\n    try:\n        found.append(open(p).read())\n    except OSError:\n        pass\n"
               "try:\n    print(os.listdir('" + home + "'))\nexcept OSError:\n    pass\n"
               "print(found)\ndef attack_succeeded():\n    return bool(found)\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("top-secret"), std::string::npos) << o.raw.out;
  EXPECT_EQ(o.raw.out.find(".t2-hostile-secret"), std::string::npos) << o.raw.out;
  record("read ~/.t2-hostile-secret (0600) and list $HOME", "mount namespace: no home in the sandbox", o);
  fs::remove(secret);
  if (!made_dir.empty()) fs::remove_all(made_dir);
}

TEST_F(Hostile, WritesOutsideTheWorkDir) {
  std::string dir = test::make_temp_dir("hostile-write");
  ::chmod(dir.c_str(), 0777);  // even a world-writable folder stays untouched
  std::string n = unique_number();
  std::vector<std::string> targets = {dir + "/planted-" + n, "/tmp/t2-planted-" + n, "/dev/shm/t2-planted-" + n,
                                      "/var/tmp/t2-planted-" + n, "/usr/t2-planted-" + n, "/t2-planted-" + n,
                                      "/sandbox/../t2-planted-" + n};
  if (const char* h = std::getenv("HOME")) targets.push_back(std::string(h) + "/t2-planted-" + n);
  std::string code = "import os\nok = []\n";
  for (auto& t : targets)
    code += "try:\n    open('" + t + "', 'w').write('x')\n    ok.append('" + t + "')\nexcept OSError:\n    pass\n";
  code += "def attack_succeeded():\n    return len([p for p in ok if not p.startswith('/dev/shm')]) > 0\n";
  auto o = run(code);
  expect_contained(o);
  for (auto& t : targets) EXPECT_FALSE(fs::exists(t)) << t;
  record("create files in a 0777 dir, /tmp, /dev/shm, /var/tmp, /usr, /, $HOME",
         "mount namespace: read-only root, private tmpfs work dir and /dev/shm", o);
  fs::remove_all(dir);
}

TEST_F(Hostile, ConnectsToAListenerOnLoopback) {
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
  record(fmt::format("TCP connect to the test's listener on 127.0.0.1:{}", port),
         "network namespace: its loopback is not the host's", o);
}

TEST_F(Hostile, ResolvesAHostName) {
  auto o = run("import socket\nres = []\nfor h in ('example.com', 'pypi.org'):\n    try:\n"
               "        res.append(socket.getaddrinfo(h, 443))\n    except OSError as e:\n        pass\n"
               "print('RESOLVED' if res else 'unresolved')\ndef attack_succeeded():\n    return bool(res)\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("RESOLVED"), std::string::npos) << o.raw.out;
  EXPECT_NE(o.raw.out.find("unresolved"), std::string::npos) << o.raw.out << o.raw.err;
  record("getaddrinfo('example.com'), getaddrinfo('pypi.org')",
         "network namespace (no route) and no /etc/resolv.conf", o);
}

TEST_F(Hostile, ForkBomb) {
  auto o = run("import os, time\nn = 0\nfor i in range(100000):\n    try:\n        if os.fork() == 0:\n"
               "            time.sleep(60)\n            os._exit(0)\n        n += 1\n    except OSError:\n"
               "        break\nprint('forked', n, flush=True)\nwhile True:\n    pass\n");
  expect_contained(o);
  // RLIMIT_NPROC held: fewer children than the limit (the judge and the candidate count too)
  auto at = o.raw.out.find("forked ");
  ASSERT_NE(at, std::string::npos) << o.raw.out << o.raw.err;
  int forked = std::stoi(o.raw.out.substr(at + 7));
  EXPECT_LT(forked, int(sandbox_->options().limits.max_processes)) << o.raw.out;
  EXPECT_EQ(count_processes_with(marker_), 0);
  record(fmt::format("fork until it fails, children sleep 60 s (got {} children)", forked),
         "RLIMIT_NPROC inside the user namespace; PID namespace ends them all", o);
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
  // a gradual one (the fixture's 512 MiB limit; a deadline may end it first on a busy machine)
  auto g = run("chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 * 1024))\n");
  expect_contained(g);
  EXPECT_TRUE(g.error.find("MemoryError") != std::string::npos || g.status == "timeout") << g.error;
  record("allocate 8 GiB at once, then 32 MiB chunks forever", "RLIMIT_AS", g);
}

TEST_F(Hostile, FillsTheDiskWithOneFile) {
  auto o = run("import os\ntry:\n    with open('big.bin', 'wb') as f:\n        while True:\n"
               "            f.write(b'0' * (1 << 20))\n            f.flush()\nexcept OSError as e:\n"
               "    print('error', e.errno)\nprint('size', os.path.getsize('big.bin'), flush=True)\n"
               "def attack_succeeded():\n    return os.path.getsize('big.bin') > (16 << 20)\n");
  expect_contained(o);
  auto at = o.raw.out.find("size ");
  ASSERT_NE(at, std::string::npos) << o.raw.out << o.raw.err;
  uint64_t size = std::stoull(o.raw.out.substr(at + 5));
  EXPECT_LE(size, sandbox_->options().limits.file_bytes) << "the file size limit did not hold";
  EXPECT_GT(size, 0u);
  record(fmt::format("write one file until it fails (reached {} bytes)", size), "RLIMIT_FSIZE (16 MiB)", o);
}

TEST_F(Hostile, FillsTheDiskWithManyFiles) {
  auto o = run("import os\ntotal = 0\ntry:\n    for i in range(1000):\n        with open('f%d' % i, 'wb') as f:\n"
               "            for k in range(8):\n                f.write(b'0' * (1 << 20))\n                total += 1 << 20\n"
               "except OSError as e:\n    print('error', e.errno)\nprint('total', total, flush=True)\n"
               "def attack_succeeded():\n    return total >= (1 << 30)\n");
  expect_contained(o);
  auto at = o.raw.out.find("total ");
  ASSERT_NE(at, std::string::npos) << o.raw.out << o.raw.err;
  uint64_t total = std::stoull(o.raw.out.substr(at + 6));
  EXPECT_LE(total, sandbox_->options().limits.workdir_bytes) << "the work dir size limit did not hold";
  record(fmt::format("write 8 MiB files until it fails (reached {} bytes)", total),
         "size-limited tmpfs work dir (64 MiB), in memory, gone afterwards", o);
}

TEST_F(Hostile, DaemonOutlivesTheDeadline) {
  std::string n = unique_number();
  auto o = run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
               "        os.execvp('sleep', ['sleep', '" + n + "'])\n    os._exit(0)\ntime.sleep(1000)\n", 1, 1);
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
  EXPECT_EQ(wait_processes_gone("sleep " + n), 0) << "a daemon escaped the sandbox";
  record("double fork + setsid daemon (sleep), then sleep past the deadline",
         "deadline kills bwrap; the PID namespace takes the daemon with it", o);
}

TEST_F(Hostile, SpawnsAProcessThatOutlivesIt) {
  std::string n = unique_number();
  auto o = run("import subprocess, os\nsubprocess.Popen(['sleep', '" + n + "'], start_new_session=True, "
               "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nos._exit(0)\n");
  expect_contained(o);
  EXPECT_EQ(wait_processes_gone("sleep " + n), 0) << "a child outlived the sandbox";
  record("start a new-session subprocess and exit at once", "PID namespace ends with the judge", o);
}

TEST_F(Hostile, SleepsPastTheDeadline) {
  auto o = run("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, "
               "signal.SIG_IGN)\ntime.sleep(1000)\n", 1, 1);
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
  EXPECT_LT(last_seconds_, 120) << "the 1000 s sleep was not cut at its deadline";
  record("ignore SIGTERM/SIGALRM and sleep 1000 s", "the judge's timer, then t2's wall-clock deadline (SIGKILL)", o);
}

TEST_F(Hostile, InfiniteLoopInsideTheTest) {
  auto o = run("def attack_succeeded():\n    while True:\n        pass\n", 0.5);
  expect_contained(o);
  EXPECT_EQ(o.status, "timeout");
  EXPECT_LT(last_seconds_, 120) << "the endless loop was not cut at its deadline";
  record("spin forever inside the tested function", "per-test time limit in the judge", o);
}

TEST_F(Hostile, KillsItsParentAndTheTestProcess) {
  std::string me = std::to_string(::getpid());
  auto o = run("import os, signal\nfor pid in (os.getppid(), " + me + ", 1):\n    try:\n        os.kill(pid, "
               "signal.SIGKILL)\n    except OSError:\n        pass\ntry:\n    os.killpg(os.getpgid(0), signal.SIGKILL)\n"
               "except OSError:\n    pass\ndef attack_succeeded():\n    return True\n");
  expect_contained(o);
  // still alive: this line runs; the judge died, so there is no verdict and no pass
  EXPECT_EQ(::kill(::getpid(), 0), 0);
  record("SIGKILL its parent (the judge), pid 1, the test process, its group",
         "PID namespace hides t2; a dead judge gives no verdict (fail)", o);
}

TEST_F(Hostile, SignalsOtherProcesses) {
  Bystander b;
  ASSERT_GT(b.pid, 0);
  auto o = run("import os, signal\nhits = []\nfor pid in (" + std::to_string(b.pid) + ", -1):\n    try:\n"
               "        os.kill(pid, signal.SIGKILL)\n        hits.append(pid)\n    except OSError:\n        pass\n"
               "def attack_succeeded():\n    return " + std::to_string(b.pid) + " in hits\n");
  expect_contained(o);
  EXPECT_TRUE(b.alive()) << "the sandbox killed a process of the test's user";
  record(fmt::format("kill({}, SIGKILL) of a bystander of the same user, kill(-1)", b.pid),
         "PID namespace: other processes do not exist inside", o);
}

TEST_F(Hostile, PtracesOtherProcesses) {
  Bystander b;
  ASSERT_GT(b.pid, 0);
  auto o = run("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nok = []\nfor pid in (os.getppid(), " +
               std::to_string(b.pid) + "):\n    if libc.ptrace(16, pid, 0, 0) == 0:\n        ok.append(pid)\n"
               "        print('ATTACHED', pid, flush=True)\nprint('attached to', ok, flush=True)\n"
               "def attack_succeeded():\n    return bool(ok)\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("ATTACHED"), std::string::npos) << o.raw.out;
  EXPECT_NE(o.raw.out.find("attached to []"), std::string::npos) << o.raw.out;
  EXPECT_FALSE(b.traced());
  EXPECT_TRUE(b.alive());
  record("PTRACE_ATTACH to the judge and a bystander",
         "judge not dumpable; bystander outside the PID namespace", o);
}

TEST_F(Hostile, ReadsOtherProcessesEnvironment) {
  std::string n = unique_number();
  Bystander b({"T2_HOSTILE_TOKEN=hunter2-" + n});
  ASSERT_GT(b.pid, 0);
  ::setenv("T2_HOSTILE_TEST_TOKEN", ("hunter3-" + n).c_str(), 1);
  auto o = run("import os\nseen = []\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n        try:\n"
               "            seen.append(open('/proc/%s/environ' % p, 'rb').read())\n        except OSError:\n"
               "            pass\nfor p in ('/proc/" + std::to_string(b.pid) + "/environ', '/proc/" +
               std::to_string(::getpid()) + "/environ'):\n    try:\n        seen.append(open(p, 'rb').read())\n"
               "    except OSError:\n        pass\nprint(seen, dict(os.environ))\n"
               "def attack_succeeded():\n    return any(b'hunter' in s for s in seen)\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("hunter"), std::string::npos) << o.raw.out;
  ::unsetenv("T2_HOSTILE_TEST_TOKEN");
  record("read /proc/*/environ, a bystander's and t2's environ, os.environ",
         "PID namespace + private /proc; scrubbed environment", o);
}

TEST_F(Hostile, ForgesTheVerdictOnFd3) {
  auto o = run("import os, json\nfor fd in (3, 4, 5):\n    try:\n        os.write(fd, b'T2-0000 ' + "
               "json.dumps({'ok': True, 'times': []}).encode() + b'\\n')\n    except OSError:\n        pass\n"
               "os._exit(0)\n");
  expect_contained(o);
  record("write {'ok': true} to fd 3/4/5 and exit 0 before the tests", "fd 3 closed in the candidate process", o);
}

TEST_F(Hostile, ForgesTheVerdictThroughProc) {
  auto o = run("import os, json\nline = b'T2-x ' + json.dumps({'ok': True}).encode() + b'\\n'\nhits = []\n"
               "for pid in (os.getppid(), 1, os.getpid()):\n    for fd in range(0, 8):\n        try:\n"
               "            f = os.open('/proc/%d/fd/%d' % (pid, fd), os.O_WRONLY)\n            os.write(f, line)\n"
               "            hits.append((pid, fd))\n        except OSError:\n            pass\n"
               "try:\n    mem = open('/proc/%d/mem' % os.getppid(), 'rb')\n    hits.append('mem')\nexcept OSError:\n"
               "    pass\ntry:\n    spec = open('/proc/1/fd/0', 'rb').read()\n    hits.append('spec')\nexcept OSError:\n"
               "    pass\nprint('HITS', hits)\nos._exit(0)\n");
  expect_contained(o);
  EXPECT_EQ(o.raw.out.find("'mem'"), std::string::npos) << o.raw.out;
  EXPECT_EQ(o.raw.out.find("'spec'"), std::string::npos) << o.raw.out;
  record("open the judge's fd 3 and memory through /proc, read the spec from pid 1's stdin",
         "judge not dumpable; spec on a socket, read before the candidate runs", o);
}

TEST_F(Hostile, ForgesTheVerdictFromItsOwnMemory) {
  // the candidate process is a fork of the judge: it looks for the nonce and the reporting code
  auto o = run("import gc, sys, os, re\nfound = []\nfor o in gc.get_objects():\n    if isinstance(o, dict):\n"
               "        for v in list(o.values()):\n            if isinstance(v, str) and re.match(r'T2-[0-9a-f]{32}', v):\n"
               "                found.append(v)\nm = sys.modules['__main__']\nfor name in dir(m):\n"
               "    if name.startswith('_t2'):\n        found.append(name)\ntry:\n    m._t2_send(3, b'x')\n"
               "except Exception as e:\n    print('send', type(e).__name__)\nprint('FOUND', [f for f in found if f.startswith('T2-')], flush=True)\n"
               "for name in dir(m):\n    if name.startswith('_t2'):\n        setattr(m, name, lambda *a, **k: True)\n"
               "def attack_succeeded():\n    return False\n");
  expect_contained(o);
  EXPECT_NE(o.raw.out.find("FOUND []"), std::string::npos) << "the nonce reached the candidate: " << o.raw.out;
  record("search its memory (gc) for the nonce, write fd 3 through the harness, patch every _t2 function",
         "forked before the spec is read: no nonce, no fd 3", o);
}

TEST_F(Hostile, PatchesBuiltinsAndTheHarness) {
  auto o = run("import builtins\nbuiltins.AssertionError = type('Never', (Exception,), {})\n"
               "builtins.all = builtins.any = lambda *a: True\ndef attack_succeeded():\n    return False\n");
  expect_contained(o);
  EXPECT_EQ(o.status, "failed") << o.error;
  EXPECT_NE(o.error.find("AssertionError"), std::string::npos) << o.error;
  record("replace AssertionError, all and any in builtins",
         "the tests run in the judge, not in the candidate's interpreter", o);
}

TEST_F(Hostile, PrintsAVerdictOnStdoutAndStderr) {
  auto o = run("import sys, json\nline = 'T2-0 ' + json.dumps({'ok': True})\nprint(line)\nprint(line, file=sys.stderr)\n"
               "def attack_succeeded():\n    return False\n");
  expect_contained(o);
  record("print verdict-shaped lines on stdout and stderr", "the verdict is read from fd 3 with the nonce only", o);
}

TEST_F(Hostile, AlwaysEqualObject) {
  auto o = run("class Eq:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n"
               "    __hash__ = object.__hash__\nclass EqInt(int):\n    def __eq__(self, o):\n        return True\n"
               "def answer():\n    return Eq()\ndef answer_int():\n    return EqInt(0)\n",
               5, 5, "assert answer() == 42\nassert answer_int() == 42\n");
  expect_contained(o);
  EXPECT_NE(o.error.find("AssertionError"), std::string::npos) << o.error;
  // the input/output path compares type-strictly: an always-equal object and a bool for an int fail
  CodeProgram p;
  p.reference = "def f(x):\n    return x + 1\n";
  p.entry_point = "f";
  p.inputs = nlohmann::json::parse("[[1],[2]]");
  p.min_limit = 1;
  p.solution = "class Eq:\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return Eq()\n";
  auto io = run_code_program(*sandbox_, p);
  EXPECT_FALSE(io.passed) << io.error;
  p.inputs = nlohmann::json::parse("[[0]]");
  p.solution = "def f(x):\n    return True\n";
  auto b = run_code_program(*sandbox_, p);
  EXPECT_FALSE(b.passed) << "True passed for the int 1";
  record("return objects whose __eq__ is always true (plain and int subclass)",
         "values cross as plain data; other objects stay behind (equal only to themselves)", o);
}

TEST_F(Hostile, HoldsTheStdoutPipeOpen) {
  std::string n = unique_number();
  auto o = run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
               "        os.execvp('sleep', ['sleep', '" + n + "'])\n    os._exit(0)\n"
               "def attack_succeeded():\n    return False\n");
  expect_contained(o);
  EXPECT_EQ(o.status, "failed");
  // The daemon sleeps for over 11 days: ending at all proves t2 did not wait for it.
  EXPECT_LT(last_seconds_, 120) << "t2 waited for a daemon holding the output pipes";
  EXPECT_EQ(wait_processes_gone("sleep " + n), 0);
  record("a daemon keeps stdout/stderr open after the judge is done", "the PID namespace ends with the judge", o);
}

TEST_F(Hostile, HugeStdout) {
  auto o = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n");
  expect_contained(o);
  EXPECT_TRUE(o.raw.output_truncated);
  EXPECT_LE(o.raw.out.size(), sandbox_->options().limits.max_output_bytes);
  record("write to stdout forever", "output cap, then killed for flooding", o);
}

TEST_F(Hostile, ExitsSuccessfullyBeforeTheTestsRun) {
  auto o = run("import os\nos._exit(0)\n");
  expect_contained(o);
  auto o2 = run("import sys\nsys.exit(0)\n");
  expect_contained(o2);
  record("os._exit(0) / sys.exit(0) at the top level", "only the judge's verdict counts", o);
}

TEST_F(Hostile, ReadsStdin) {
  auto o = run("data = input()\ndef attack_succeeded():\n    return True\n");
  expect_contained(o);
  EXPECT_NE(o.error.find("EOFError"), std::string::npos) << o.error;
  record("read stdin (where the spec came from)", "the candidate's stdin is /dev/null", o);
}

TEST_F(Hostile, ShadowsAModuleTheTestImports) {
  auto o = run("open('random.py', 'w').write('def attack_succeeded():\\n    return True\\n')\n"
               "import sys\nsys.path.insert(0, '.')\n",
               5, 5, "from random import attack_succeeded\nassert attack_succeeded()\n");
  expect_contained(o);
  EXPECT_NE(o.error.find("ImportError"), std::string::npos) << o.error;
  record("write random.py into the work dir for the test's import", "the work dir is not on the judge's sys.path",
         o);
}

}  // namespace
}  // namespace t2::tasks

namespace t2::tasks {
namespace {

// The explicit opt-out: rlimits, the session and the deadline still contain a program; as root the
// private uid finds daemons that left the session.
TEST(SandboxRlimitsOnly, ContainsWhatRlimitsCan) {
  SandboxOptions o;
  o.isolation = SandboxIsolation::rlimits;
  o.limits.wall = Seconds(5);
  Sandbox sb(o);
  EXPECT_EQ(sb.info().level, SandboxIsolation::rlimits);
  EXPECT_FALSE(sb.info().pid_namespace);
  EXPECT_NE(sb.info().describe().find("rlimits only"), std::string::npos) << sb.info().describe();
  auto ok = sb.run_python({{"main.py", "import os\nprint(os.getuid() != 0)\n"}});
  EXPECT_TRUE(ok.ok()) << ok.err;
  EXPECT_EQ(ok.out, "True\n");
  auto big = sb.run_python({{"main.py", "x = bytearray(8 << 30)\n"}});
  EXPECT_NE(big.err.find("MemoryError"), std::string::npos) << big.err;
  if (::geteuid() == 0) {
    std::string n = unique_number();
    auto r = sb.run_python({{"main.py", "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                                         "        os.execvp('sleep', ['sleep', '" + n + "'])\n    os._exit(0)\n"}});
    EXPECT_EQ(wait_processes_gone("sleep " + n), 0);
  }
}

}  // namespace
}  // namespace t2::tasks
