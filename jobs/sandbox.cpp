#include "jobs/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <tuple>

#include <spdlog/spdlog.h>

#include "core/check.h"
#include "core/subprocess.h"

namespace t2::tasks {

namespace fs = std::filesystem;

std::string to_string(SandboxIsolation level) {
  return level == SandboxIsolation::namespaces ? "namespaces" : "rlimits";
}

SandboxIsolation parse_sandbox_isolation(const std::string& text) {
  if (text == "namespaces") return SandboxIsolation::namespaces;
  if (text == "rlimits") return SandboxIsolation::rlimits;
  T2_FAIL_AS(UsageError, "sandbox isolation must be 'namespaces' (the default) or 'rlimits' (opt-out: no "
                         "file-system or network isolation), got '{}'", text);
}

std::string SandboxInfo::describe() const {
  std::string s;
  if (level == SandboxIsolation::namespaces)
    s = fmt::format("namespaces (bwrap {}: user, pid, network, mount, ipc, uts namespaces; private file system)", bwrap);
  else
    s = "rlimits only (no namespaces: the program sees t2's file system and network)";
  if (private_uid) s += ", a private uid per program";
  if (!note.empty()) s += " [" + note + "]";
  return s;
}

std::string SandboxResult::describe() const {
  std::string s;
  if (timed_out) s = fmt::format("killed after its wall-clock deadline ({:.2f} s)", wall_seconds);
  else if (exited) s = fmt::format("exit {}", exit_code);
  else if (signal) s = fmt::format("killed by signal {}{}", signal, signal == SIGXCPU ? " (CPU time limit)" : signal == SIGXFSZ ? " (file size limit)" : "");
  else s = "did not report an exit status";
  if (output_truncated) s += " (output truncated)";
  return s;
}

namespace {

constexpr uid_t kUidBase = 820000;  // root: unprivileged ids, one per concurrent program
constexpr int kUidSlots = 20000;
constexpr const char* kWorkdir = "/sandbox";  // the work directory inside the namespaces
constexpr const char* kProbeMarker = "t2-sandbox-ok";

// Started from the pid so that two t2 processes on one machine rarely hand out the same uid.
std::atomic<unsigned> g_uid_counter{unsigned(::getpid()) * 97u};

// Runs inside the sandbox before the program: RLIMIT_NPROC is set here, inside the new user
// namespace, where it counts this program's processes only (set outside, it would count every
// process of t2's user); the work directory leaves sys.path so that nothing the program writes there
// can shadow a module a later import loads. argv: -c NPROC WORKDIR PROGRAM ARGS...
const char* kBootstrap =
    "import os, sys, resource, runpy\n"
    "os.closerange(4, 65536)\n"
    "n = int(sys.argv[1]); w = sys.argv[2]\n"
    "if n > 0:\n"
    "    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', '.', w)]\n"
    "del sys.argv[:3]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n";

[[noreturn]] void die(int fd, const char* msg) {
  if (fd >= 0) {
    (void)!::write(fd, msg, std::char_traits<char>::length(msg));
    const char* e = std::strerror(errno);  // strerror is not async-signal-safe in theory; only a message
    (void)!::write(fd, ": ", 2);
    (void)!::write(fd, e, std::char_traits<char>::length(e));
    (void)!::write(fd, "\n", 1);
  }
  ::_exit(126);
}

void close_from(int lowest) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, lowest, ~0u, 0) == 0) return;
#endif
  for (int fd = lowest; fd < 65536; ++fd) ::close(fd);
}

void set_limit(int resource, rlim_t v) {
  struct rlimit rl {v, v};
  ::setrlimit(resource, &rl);
}

std::string read_sysctl(const std::string& path) {
  std::ifstream in(path);
  std::string v;
  if (!(in >> v)) return "";
  return v;
}

std::string find_bwrap(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      std::string p = dir + "/bwrap";
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return "/usr/bin/bwrap";
}

// What the namespaces show of the host, read-only at the same paths: /usr, the merged-/usr links,
// the files of /etc that the dynamic loader and Python read, and the Python installation when it
// lives outside /usr (a venv, conda, pyenv: sys.prefix and sys.base_prefix).
struct HostView {
  std::vector<std::pair<std::string, std::string>> symlinks;  // (target, link)
  std::vector<std::string> ro_binds;
};

HostView host_view(const std::string& python) {
  HostView v;
  v.ro_binds.push_back("/usr");
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code ec;
    auto st = fs::symlink_status(top, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_symlink(st)) v.symlinks.emplace_back(fs::read_symlink(top, ec).string(), top);
    else if (fs::is_directory(st)) v.ro_binds.push_back(top);
  }
  for (const char* f : {"/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"})
    if (fs::exists(f)) v.ro_binds.push_back(f);
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/etc", ec))
    if (e.path().filename().string().rfind("python3", 0) == 0) v.ro_binds.push_back(e.path().string());
  auto under_usr = [](const std::string& p) { return p.rfind("/usr/", 0) == 0; };
  std::string real = fs::weakly_canonical(python, ec).string();
  if (!under_usr(python) || !under_usr(real)) {
    SubprocessOptions o;
    o.timeout = Seconds(30);
    auto r = run_subprocess({python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"}, o);
    std::stringstream ss(r.out);
    std::string line;
    while (std::getline(ss, line))
      if (!line.empty() && !under_usr(line + "/") && line != "/usr") v.ro_binds.push_back(line);
    for (const std::string& p : {python, real}) {
      std::string dir = fs::path(p).parent_path().string();
      if (!under_usr(dir + "/") && dir != "/") v.ro_binds.push_back(dir);
    }
  }
  std::sort(v.ro_binds.begin(), v.ro_binds.end());
  v.ro_binds.erase(std::unique(v.ro_binds.begin(), v.ro_binds.end()), v.ro_binds.end());
  return v;
}

// How programs are started: everything the run needs besides the program itself.
struct Setup {
  SandboxIsolation level = SandboxIsolation::rlimits;
  std::string python, bwrap;
  HostView view;
  bool private_uid = false;
};

// Everything the supervisor needs, prepared before fork (it allocates nothing).
struct Plan {
  const char* exec_path = nullptr;
  std::vector<char*> argv, envp;
  std::vector<int> file_fds;  // memfds with the program files (namespaces), become fds 4, 5, ...
  const char* chdir_to = nullptr;
  SandboxLimits limits;
  bool set_nproc = false;  // in the supervisor (root's private uid: it counts this program only)
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t t2_pid = 0;
};

// S's SIGTERM handler: the parent-death signal of the supervisor. Kills S's process group: bwrap,
// the namespace's PID 1 (bwrap's reaper, which does not die with bwrap by itself) and, without
// namespaces, the program.
void kill_own_group(int) {
  ::kill(0, SIGKILL);
  ::_exit(137);
}

void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // t2's threads may block signals; exec keeps the mask
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // ignored signals survive exec
}

// C: the child of the supervisor. Sets the rlimits, drops to the private uid (root) and becomes
// bwrap (or, with rlimits only, python). Its fds are S's: 0-3 and the program files.
[[noreturn]] void exec_program(const Plan& p, pid_t supervisor) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != supervisor) ::_exit(125);
  size_t nfiles = p.file_fds.size();
  double cpu = p.limits.cpu_seconds > 0 ? p.limits.cpu_seconds : std::ceil(p.limits.wall.count()) + 1;
  set_limit(RLIMIT_CPU, rlim_t(std::ceil(cpu)));
  set_limit(RLIMIT_AS, p.limits.memory_bytes);
  set_limit(RLIMIT_FSIZE, p.limits.file_bytes);
  set_limit(RLIMIT_NOFILE, std::max<uint64_t>(p.limits.max_open_files, 4 + nfiles + 8));
  set_limit(RLIMIT_CORE, 0);
  if (p.set_nproc) set_limit(RLIMIT_NPROC, p.limits.max_processes);
  if (p.drop) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(p.gid) != 0 || ::setuid(p.uid) != 0)
      die(2, "t2 sandbox: switching to the unprivileged uid");
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a uid change clears it
    if (::getppid() != supervisor) ::_exit(125);
  }
  if (p.chdir_to && ::chdir(p.chdir_to) != 0) die(2, "t2 sandbox: chdir to the work dir");
  ::execve(p.exec_path, p.argv.data(), p.envp.data());
  die(2, "t2 sandbox: cannot execute the sandbox");
}

// S: the supervisor, forked by t2. Leads its own session and process group, gets SIGTERM when t2
// dies (PR_SET_PDEATHSIG) and then SIGKILLs its whole group, keeps only its pipes (fds 0-3 and the
// program files; everything else t2 had open, its run lock included, is closed), starts C and exits
// with C's status (a signal N as 128 + N). It allocates nothing.
[[noreturn]] void run_supervisor(const Plan& p, int in_fd, int out_fd, int err_fd, int res_fd) {
  ::setsid();
  reset_signals();
  struct sigaction term {};
  term.sa_handler = kill_own_group;
  ::sigaction(SIGTERM, &term, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != p.t2_pid) ::_exit(125);  // t2 died before the prctl
  // move every fd we keep above the target range, then into place; close all others
  const int high = 1000;
  if (in_fd < 0 && (in_fd = ::open("/dev/null", O_RDONLY)) < 0) die(err_fd, "t2 sandbox: /dev/null");
  int src[4] = {in_fd, out_fd, err_fd, res_fd};
  int moved[4 + 64];
  size_t nfiles = p.file_fds.size();
  if (nfiles > 64) die(err_fd, "t2 sandbox: too many program files");
  for (int i = 0; i < 4; ++i)
    if ((moved[i] = ::fcntl(src[i], F_DUPFD, high)) < 0) die(err_fd, "t2 sandbox: dup");
  for (size_t i = 0; i < nfiles; ++i)
    if ((moved[4 + i] = ::fcntl(p.file_fds[i], F_DUPFD, high)) < 0) die(err_fd, "t2 sandbox: dup");
  for (size_t i = 0; i < 4 + nfiles; ++i)
    if (::dup2(moved[i], int(i)) < 0) die(err_fd, "t2 sandbox: dup2");
  close_from(int(4 + nfiles));
  for (size_t i = 4; i < 4 + nfiles; ++i) ::lseek(int(i), 0, SEEK_SET);
  pid_t self = ::getpid();
  pid_t c = ::fork();
  if (c < 0) die(2, "t2 sandbox: fork");
  if (c == 0) exec_program(p, self);
  // S keeps no pipe open of its own: t2 sees EOF as soon as the program's side is closed
  for (int fd = 0; fd < int(4 + nfiles); ++fd) ::close(fd);
  int st = 0;
  while (::waitpid(c, &st, 0) < 0)
    if (errno != EINTR) ::_exit(125);
  ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Kills every process of `uid` (the program's private uid) from a short-lived helper with that uid.
void kill_uid(uid_t uid, gid_t gid) {
  pid_t k = ::fork();
  if (k == 0) {
    if (::setgroups(0, nullptr) == 0 && ::setgid(gid) == 0 && ::setuid(uid) == 0) ::kill(-1, SIGKILL);
    ::_exit(0);
  }
  if (k > 0) {
    int st;
    while (::waitpid(k, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

int make_memfd(const SandboxFile& f) {
  int fd = int(::syscall(SYS_memfd_create, "t2-sandbox-file", MFD_CLOEXEC));
  T2_CHECK_ERRNO(fd >= 0, "sandbox: memfd_create");
  size_t off = 0;
  while (off < f.contents.size()) {
    ssize_t w = ::write(fd, f.contents.data() + off, f.contents.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      T2_CHECK_ERRNO(false, "sandbox: writing {} to a memfd", f.name);
    }
    off += size_t(w);
  }
  return fd;
}

SandboxResult run_program(const Setup& s, const std::vector<SandboxFile>& files, const std::vector<std::string>& args,
                          const SandboxLimits& lim, const std::string& stdin_data) {
  T2_CHECK(!files.empty(), "run_python: no program file");
  for (auto& f : files)
    T2_CHECK(!f.name.empty() && f.name.find('/') == std::string::npos && f.name != "." && f.name != "..",
             "sandbox file name '{}' must be a plain name", f.name);
  const bool ns = s.level == SandboxIsolation::namespaces;
  Plan p;
  p.limits = lim;
  p.t2_pid = ::getpid();
  p.drop = s.private_uid;
  unsigned slot = g_uid_counter.fetch_add(1) % kUidSlots;
  p.uid = kUidBase + slot;
  p.gid = kUidBase + slot;
  p.set_nproc = s.private_uid;

  struct Cleanup {
    std::string base;
    std::vector<int> fds;
    ~Cleanup() {
      for (int fd : fds) ::close(fd);
      if (!base.empty()) {
        std::error_code ec;
        fs::remove_all(base, ec);
      }
    }
  } cleanup;

  std::string workdir;
  if (ns) {
    workdir = kWorkdir;
    for (auto& f : files) cleanup.fds.push_back(make_memfd(f));
    p.file_fds = cleanup.fds;
  } else {
    // rlimits: a fresh directory on disk; as root a base dir the program may not write ("../")
    std::string tmpl = (fs::temp_directory_path() / "t2-sandbox-XXXXXX").string();
    std::vector<char> tb(tmpl.begin(), tmpl.end());
    tb.push_back('\0');
    T2_CHECK_ERRNO(::mkdtemp(tb.data()) != nullptr, "sandbox: mkdtemp {}", tmpl);
    cleanup.base = tb.data();
    workdir = cleanup.base + "/work";
    T2_CHECK_ERRNO(::mkdir(workdir.c_str(), 0700) == 0, "sandbox: mkdir {}", workdir);
    ::chmod(cleanup.base.c_str(), 0711);
    for (auto& f : files) {
      std::string path = workdir + "/" + f.name;
      std::ofstream o(path, std::ios::binary);
      o << f.contents;
      T2_CHECK(o.good(), "sandbox: cannot write {}", path);
      if (p.drop) (void)!::chown(path.c_str(), p.uid, p.gid);
    }
    if (p.drop) T2_CHECK_ERRNO(::chown(workdir.c_str(), p.uid, p.gid) == 0, "sandbox: chown {}", workdir);
  }

  // NPROC inside the namespace (see kBootstrap); with rlimits only, root sets it in the supervisor
  // for the private uid and an ordinary user cannot limit a program's processes apart from its own.
  uint64_t inner_nproc = ns ? lim.max_processes : 0;
  std::vector<std::string> py = {s.python, "-s", "-B", "-c", kBootstrap, std::to_string(inner_nproc), workdir,
                                 workdir + "/" + files[0].name};
  py.insert(py.end(), args.begin(), args.end());
  std::vector<std::string> argv_s;
  if (ns) {
    argv_s = {s.bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--new-session", "--uid", "1000",
              "--gid", "1000", "--hostname", "t2-sandbox"};
    for (auto& b : s.view.ro_binds) argv_s.insert(argv_s.end(), {"--ro-bind", b, b});
    for (auto& [target, link] : s.view.symlinks) argv_s.insert(argv_s.end(), {"--symlink", target, link});
    argv_s.insert(argv_s.end(), {"--proc", "/proc", "--dev", "/dev", "--size", "1048576", "--tmpfs", "/dev/shm",
                                 "--size", std::to_string(lim.workdir_bytes), "--tmpfs", workdir});
    for (size_t i = 0; i < files.size(); ++i)
      argv_s.insert(argv_s.end(), {"--file", std::to_string(4 + i), workdir + "/" + files[i].name});
    argv_s.insert(argv_s.end(), {"--remount-ro", "/", "--chdir", workdir, "--"});
    argv_s.insert(argv_s.end(), py.begin(), py.end());
  } else {
    argv_s = py;
    p.chdir_to = workdir.c_str();
  }
  std::vector<std::string> env_s = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                                    "HOME=" + workdir, "TMPDIR=" + workdir, "PYTHONDONTWRITEBYTECODE=1",
                                    "PYTHONIOENCODING=utf-8", "PYTHONHASHSEED=0", "OMP_NUM_THREADS=1",
                                    "OPENBLAS_NUM_THREADS=1"};
  p.exec_path = argv_s[0].c_str();
  for (auto& a : argv_s) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : env_s) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);

  int out_p[2], err_p[2], res_p[2];
  // stdin: a socket rather than a pipe, so that writing to a program that has gone raises no SIGPIPE
  // and a reopen through /proc/<pid>/fd/0 inside the sandbox fails
  int in_s[2] = {-1, -1};
  T2_CHECK_ERRNO(stdin_data.empty() || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_s) == 0,
                 "sandbox: socketpair");
  T2_CHECK_ERRNO(::pipe2(out_p, O_CLOEXEC) == 0 && ::pipe2(err_p, O_CLOEXEC) == 0 && ::pipe2(res_p, O_CLOEXEC) == 0,
                 "sandbox: pipe");
  auto t0 = Clock::now();
  pid_t sup = ::fork();
  if (sup < 0) {
    int e = errno;
    for (int fd : {out_p[0], out_p[1], err_p[0], err_p[1], res_p[0], res_p[1], in_s[0], in_s[1]})
      if (fd >= 0) ::close(fd);
    errno = e;
    T2_CHECK_ERRNO(false, "sandbox: fork");
  }
  if (sup == 0) run_supervisor(p, in_s[1], out_p[1], err_p[1], res_p[1]);
  ::close(out_p[1]);
  ::close(err_p[1]);
  ::close(res_p[1]);
  int in_fd = in_s[0];
  size_t in_off = 0;
  if (in_fd >= 0) {
    ::close(in_s[1]);
    set_nonblock(in_fd);
  }

  SandboxResult r;
  int fds[3] = {out_p[0], err_p[0], res_p[0]};
  for (int fd : fds) set_nonblock(fd);
  const Deadline deadline = Deadline::after(lim.wall);
  bool sup_reaped = false, killed = false;
  int sup_status = 0;
  std::optional<Clock::time_point> drain_until;
  size_t total_out = 0;
  char buf[65536];
  auto kill_all = [&] {
    ::kill(-sup, SIGKILL);
    ::kill(sup, SIGKILL);
    killed = true;
  };
  while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0 || !sup_reaped) {
    if (!sup_reaped) {
      int st;
      if (::waitpid(sup, &st, WNOHANG) == sup) {
        sup_reaped = true;
        sup_status = st;
        // with namespaces every process is gone now; without, a daemon may hold the pipes open
        drain_until = Clock::now() + std::chrono::milliseconds(500);
      }
    }
    if (!killed && !sup_reaped && deadline.expired()) {
      r.timed_out = true;
      kill_all();
    }
    if (drain_until && Clock::now() > *drain_until) break;
    struct pollfd pf[4];
    int n = 0;
    for (int fd : fds)
      if (fd >= 0) pf[n++] = {fd, POLLIN, 0};
    if (in_fd >= 0) pf[n++] = {in_fd, POLLOUT, 0};
    if (n == 0) {
      ::usleep(2000);
      continue;
    }
    ::poll(pf, nfds_t(n), 10);
    for (int i = 0; i < n; ++i) {
      if (!pf[i].revents) continue;
      int fd = pf[i].fd;
      if (fd == in_fd) {
        ssize_t w = ::send(in_fd, stdin_data.data() + in_off, stdin_data.size() - in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) in_off += size_t(w);
        if (in_off == stdin_data.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) {
          ::close(in_fd);  // EOF for the program
          in_fd = -1;
        }
        continue;
      }
      ssize_t k = ::read(fd, buf, sizeof buf);
      if (k > 0) {
        std::string& dst = fd == fds[0] ? r.out : fd == fds[1] ? r.err : r.result_channel;
        size_t cap = fd == fds[2] ? (1u << 20) : lim.max_output_bytes;
        size_t room = dst.size() < cap ? cap - dst.size() : 0;
        dst.append(buf, std::min(room, size_t(k)));
        if (size_t(k) > room) r.output_truncated = true;
        total_out += size_t(k);
        // a program that floods its output is stopped early rather than read until its deadline
        if (!killed && total_out > 16 * lim.max_output_bytes) kill_all();
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        for (int& f : fds)
          if (f == fd) f = -1;
      }
    }
  }
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
  if (in_fd >= 0) ::close(in_fd);
  if (!sup_reaped) {
    kill_all();
    while (::waitpid(sup, &sup_status, 0) < 0 && errno == EINTR) {
    }
  } else if (!ns) {
    ::kill(-sup, SIGKILL);  // rlimits: whatever is left of the process group
  }
  // rlimits as root: processes that left the group (setsid) are found by their private uid
  if (p.drop && !ns) kill_uid(p.uid, p.gid);
  r.wall_seconds = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  if (!r.timed_out) {
    if (WIFEXITED(sup_status)) {
      r.exited = true;
      r.exit_code = WEXITSTATUS(sup_status);
      // the supervisor (and bwrap) pass a program killed by signal N on as exit status 128 + N
      if (r.exit_code > 128 && r.exit_code <= 128 + 64) {
        r.exited = false;
        r.signal = r.exit_code - 128;
      }
    } else if (WIFSIGNALED(sup_status)) {
      r.signal = WTERMSIG(sup_status);
    }
  }
  return r;
}

Setup make_setup(const SandboxOptions& opt, SandboxIsolation level) {
  Setup s;
  s.level = level;
  s.python = opt.python;
  s.private_uid = ::geteuid() == 0;
  if (level == SandboxIsolation::namespaces) {
    s.bwrap = find_bwrap(opt.bwrap);
    s.view = host_view(opt.python);
  }
  return s;
}

}  // namespace

std::string sandbox_unavailable_message(const SandboxInfo& info) {
  std::vector<std::string> settings;
  std::string v = read_sysctl("/proc/sys/user/max_user_namespaces");
  settings.push_back(fmt::format("user.max_user_namespaces = {} (must be > 0)", v.empty() ? "?" : v));
  v = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  if (!v.empty()) settings.push_back(fmt::format("kernel.unprivileged_userns_clone = {} (must be 1)", v));
  v = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (!v.empty())
    settings.push_back(fmt::format("kernel.apparmor_restrict_unprivileged_userns = {} (must be 0, or an AppArmor "
                                   "profile must allow bwrap to create user namespaces)", v));
  std::string joined;
  for (auto& s : settings) joined += (joined.empty() ? "" : "; ") + s;
  return fmt::format(
      "the code sandbox needs Linux user namespaces (through bubblewrap) and this machine does not provide "
      "them: {}. Kernel settings: {}. Ask the administrator to enable unprivileged user namespaces (e.g. "
      "`sysctl -w user.max_user_namespaces=10000`, `sysctl -w kernel.unprivileged_userns_clone=1`), install "
      "bubblewrap (scripts/install-deps), or run generated code with rlimits only -- no file-system or network "
      "isolation -- by setting `sandbox: {{isolation: rlimits}}` in the campaign or passing "
      "`--sandbox-isolation rlimits`",
      info.note, joined);
}

const SandboxInfo& probe_sandbox_support(const SandboxOptions& opt) {
  static std::mutex mu;
  static std::map<std::tuple<int, std::string, std::string>, SandboxInfo> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(int(opt.isolation), opt.python, opt.bwrap);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  SandboxInfo info;
  info.private_uid = ::geteuid() == 0;
  if (opt.isolation == SandboxIsolation::namespaces) {
    Setup s = make_setup(opt, SandboxIsolation::namespaces);
    info.bwrap = s.bwrap;
    if (::access(s.bwrap.c_str(), X_OK) != 0) {
      info.note = fmt::format("bubblewrap is not installed ({} is not executable)", s.bwrap);
    } else {
      SandboxLimits lim;
      lim.wall = Seconds(30);
      SandboxResult r;
      try {
        r = run_program(s, {{"probe.py", "import sys\nprint(sys.stdin.read())\n"}}, {}, lim, kProbeMarker);
      } catch (const std::exception& e) {
        r.err = e.what();
      }
      if (r.ok() && r.out == std::string(kProbeMarker) + "\n") {
        info.level = SandboxIsolation::namespaces;
        info.user_namespace = info.pid_namespace = info.network_namespace = info.mount_namespace = true;
      } else {
        std::string err = r.err;
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        if (err.size() > 400) err = err.substr(0, 400) + "...";
        info.note = fmt::format("{} failed ({}){}", s.bwrap, r.describe(), err.empty() ? "" : ": " + err);
      }
    }
  } else {
    info.note = "isolation: rlimits chosen explicitly";
  }
  return cache.emplace(key, info).first->second;
}

Sandbox::Sandbox(SandboxOptions opt) : opt_(std::move(opt)) {
  T2_CHECK_AS(UsageError, ::access(opt_.python.c_str(), X_OK) == 0, "sandbox interpreter '{}' is not executable",
              opt_.python);
  info_ = probe_sandbox_support(opt_);
  if (opt_.isolation == SandboxIsolation::namespaces && info_.level != SandboxIsolation::namespaces)
    T2_FAIL_AS(UsageError, "{}", sandbox_unavailable_message(info_));
  if (info_.level == SandboxIsolation::rlimits) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      spdlog::warn("code sandbox: {}: generated programs can read and write what this user can and reach the "
                   "network", info_.describe());
    });
  }
}

SandboxResult Sandbox::run_python(const std::vector<SandboxFile>& files, const std::vector<std::string>& args,
                                  const SandboxLimits* limits, const std::string& stdin_data) const {
  static std::mutex mu;
  static std::map<std::tuple<int, std::string, std::string>, Setup> setups;
  const Setup* s;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_tuple(int(info_.level), opt_.python, opt_.bwrap);
    auto it = setups.find(key);
    if (it == setups.end()) it = setups.emplace(key, make_setup(opt_, info_.level)).first;
    s = &it->second;
  }
  return run_program(*s, files, args, limits ? *limits : opt_.limits, stdin_data);
}

}  // namespace t2::tasks
