#include "jobs/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/check.h"

namespace t2::tasks {

namespace fs = std::filesystem;

std::string SandboxInfo::describe() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::string s = fmt::format("pid namespace {}, network namespace {}, mount namespace {}, unprivileged uid {}",
                              yn(pid_namespace), yn(network_namespace), yn(mount_namespace), yn(unprivileged_uid));
  if (!note.empty()) s += " (" + note + ")";
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

constexpr int kNamespaceFlags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr uid_t kUidBase = 820000;  // unprivileged ids, one per concurrent program
constexpr int kUidSlots = 20000;

// Started from the pid so that two t2 processes on one machine rarely hand out the same uid.
std::atomic<unsigned> g_uid_counter{unsigned(::getpid()) * 97u};

// Mount points to make read-only inside the sandbox's mount namespace (read once).
const std::vector<std::string>& readonly_mount_points() {
  static const std::vector<std::string> points = [] {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string id, parent, devno, root, mp;
      ss >> id >> parent >> devno >> root >> mp;
      if (mp.empty()) continue;
      // kernel file systems stay as they are (the sandbox gets its own /proc below)
      if (mp.rfind("/proc", 0) == 0 || mp.rfind("/sys", 0) == 0) continue;
      if (mp == "/dev" || mp == "/dev/pts") continue;
      if (mp.find("\\") != std::string::npos) continue;  // escaped names: skip rather than misparse
      out.push_back(mp);
    }
    return out;
  }();
  return points;
}

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
  for (int fd = lowest; fd < 4096; ++fd) ::close(fd);
}

// Everything the child processes need, prepared before fork (the children allocate nothing).
struct Plan {
  std::string workdir;
  std::string tmpfs_options;
  std::vector<const char*> readonly;
  std::vector<std::string> file_paths;
  const std::vector<SandboxFile>* files = nullptr;
  std::vector<char*> argv, envp;
  bool pid_ns = false, net_ns = false, mount_ns = false, drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  SandboxLimits limits;
};

void set_limit(int resource, rlim_t v) {
  struct rlimit rl {v, v};
  ::setrlimit(resource, &rl);
}

// P: the program itself.
[[noreturn]] void exec_program(const Plan& p, int out_fd, int err_fd, int res_fd) {
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || ::dup2(devnull, 0) < 0) die(err_fd, "t2 sandbox: stdin");
  if (::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0 || ::dup2(res_fd, 3) < 0) die(err_fd, "t2 sandbox: dup2");
  close_from(4);
  if (::chdir(p.workdir.c_str()) != 0) die(2, "t2 sandbox: chdir to the work dir");
  double cpu = p.limits.cpu_seconds > 0 ? p.limits.cpu_seconds : std::ceil(p.limits.wall.count()) + 1;
  set_limit(RLIMIT_CPU, rlim_t(std::ceil(cpu)));
  set_limit(RLIMIT_AS, p.limits.memory_bytes);
  set_limit(RLIMIT_FSIZE, p.limits.file_bytes);
  set_limit(RLIMIT_NOFILE, p.limits.max_open_files);
  set_limit(RLIMIT_CORE, 0);
  set_limit(RLIMIT_NPROC, p.limits.max_processes);
  if (p.drop) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(p.gid) != 0 || ::setuid(p.uid) != 0)
      die(2, "t2 sandbox: switching to the unprivileged uid");
  }
  ::execve(p.argv[0], p.argv.data(), p.envp.data());
  die(2, "t2 sandbox: cannot execute the interpreter");
}

// G: PID 1 of the namespace (or a plain reaper without one). Prepares the file system, starts P,
// reports P's wait status on status_fd and exits, which ends every process left in the namespace.
[[noreturn]] void run_init(const Plan& p, pid_t supervisor, int out_fd, int err_fd, int res_fd, int status_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // inside a new PID namespace the parent is invisible (getppid() == 0)
  if (!p.pid_ns && ::getppid() != supervisor) ::_exit(125);
  if (p.mount_ns) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die(err_fd, "t2 sandbox: private mounts");
    if (::mount("t2-sandbox", p.workdir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmpfs_options.c_str()) != 0)
      die(err_fd, "t2 sandbox: tmpfs work dir");
    for (size_t i = 0; i < p.files->size(); ++i) {
      int fd = ::open(p.file_paths[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) die(err_fd, "t2 sandbox: writing a program file");
      const std::string& c = (*p.files)[i].contents;
      size_t off = 0;
      while (off < c.size()) {
        ssize_t w = ::write(fd, c.data() + off, c.size() - off);
        if (w <= 0) die(err_fd, "t2 sandbox: writing a program file");
        off += size_t(w);
      }
      ::close(fd);
    }
    for (const char* mp : p.readonly)
      ::mount(nullptr, mp, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, nullptr);  // best effort
    if (p.pid_ns) ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  }
  pid_t child = ::fork();
  if (child < 0) die(err_fd, "t2 sandbox: fork");
  if (child == 0) {
    ::close(status_fd);
    exec_program(p, out_fd, err_fd, res_fd);
  }
  ::close(out_fd);
  ::close(err_fd);
  ::close(res_fd);
  int st = 0, program_status = 0;
  for (;;) {
    pid_t w = ::waitpid(-1, &st, 0);
    if (w == child) {
      program_status = st;
      break;
    }
    if (w < 0 && errno != EINTR) break;
  }
  (void)!::write(status_fd, &program_status, sizeof program_status);
  ::_exit(0);
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Kills every process of `uid` (the sandbox's private uid) from a short-lived helper with that uid.
void kill_uid(uid_t uid, gid_t gid) {
  pid_t k = ::fork();
  if (k == 0) {
    if (::setgroups(0, nullptr) == 0 && ::setgid(gid) == 0 && ::setuid(uid) == 0) ::kill(-1, SIGKILL);
    ::_exit(0);
  }
  if (k > 0) {
    int st;
    ::waitpid(k, &st, 0);
  }
}

}  // namespace

const SandboxInfo& probe_sandbox_support(bool want_namespaces, bool want_uid_drop) {
  static std::mutex mu;
  static std::map<std::pair<bool, bool>, SandboxInfo> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(want_namespaces, want_uid_drop);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  SandboxInfo info;
  std::vector<std::string> missing;
  if (want_namespaces) {
    // A throw-away child tries the namespaces and a private mount; its exit code says what worked.
    pid_t c = ::fork();
    if (c == 0) {
      if (::unshare(kNamespaceFlags) != 0) ::_exit(1);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(2);
      ::_exit(0);
    }
    int st = 0;
    if (c > 0) ::waitpid(c, &st, 0);
    int code = (c > 0 && WIFEXITED(st)) ? WEXITSTATUS(st) : 1;
    if (code == 0) info.pid_namespace = info.network_namespace = info.mount_namespace = true;
    else if (code == 2) info.pid_namespace = info.network_namespace = true;
    if (!info.pid_namespace) missing.push_back("unshare(CLONE_NEWPID|NEWNET|NEWNS) not permitted: no network or PID isolation");
    else if (!info.mount_namespace) missing.push_back("private mounts not permitted: the file system is writable where the uid allows");
  } else {
    missing.push_back("namespaces disabled by configuration");
  }
  if (want_uid_drop) {
    info.unprivileged_uid = ::geteuid() == 0;
    if (!info.unprivileged_uid) missing.push_back("not root: programs keep t2's uid, RLIMIT_NPROC counts all its processes");
  }
  for (auto& m : missing) info.note += (info.note.empty() ? "" : "; ") + m;
  if (!info.pid_namespace || (want_uid_drop && !info.unprivileged_uid))
    spdlog::warn("code sandbox: reduced isolation: {}", info.describe());
  return cache.emplace(key, info).first->second;
}

Sandbox::Sandbox(SandboxOptions opt) : opt_(std::move(opt)) {
  info_ = probe_sandbox_support(opt_.use_namespaces, opt_.drop_privileges);
  T2_CHECK_AS(UsageError, ::access(opt_.python.c_str(), X_OK) == 0, "sandbox interpreter '{}' is not executable",
              opt_.python);
}

SandboxResult Sandbox::run_python(const std::vector<SandboxFile>& files, const std::vector<std::string>& args,
                                  const SandboxLimits* limits_in) const {
  T2_CHECK(!files.empty(), "run_python: no program file");
  for (auto& f : files)
    T2_CHECK(!f.name.empty() && f.name.find('/') == std::string::npos && f.name != "." && f.name != "..",
             "sandbox file name '{}' must be a plain name", f.name);
  const SandboxLimits lim = limits_in ? *limits_in : opt_.limits;

  Plan p;
  p.limits = lim;
  p.pid_ns = info_.pid_namespace;
  p.net_ns = info_.network_namespace;
  p.mount_ns = info_.mount_namespace;
  p.drop = info_.unprivileged_uid;
  unsigned slot = g_uid_counter.fetch_add(1) % kUidSlots;
  p.uid = kUidBase + slot;
  p.gid = kUidBase + slot;

  // base dir (root only) holding the work dir: "../" of the program is not writable for it
  std::string tmpl = (fs::temp_directory_path() / "t2-sandbox-XXXXXX").string();
  std::vector<char> tb(tmpl.begin(), tmpl.end());
  tb.push_back('\0');
  T2_CHECK_ERRNO(::mkdtemp(tb.data()) != nullptr, "sandbox: mkdtemp {}", tmpl);
  const std::string base = tb.data();
  p.workdir = base + "/work";
  struct Cleanup {
    std::string base;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(base, ec);
    }
  } cleanup{base};
  T2_CHECK_ERRNO(::mkdir(p.workdir.c_str(), 0700) == 0, "sandbox: mkdir {}", p.workdir);
  ::chmod(base.c_str(), 0711);
  for (auto& f : files) p.file_paths.push_back(p.workdir + "/" + f.name);
  p.files = &files;
  if (!p.mount_ns) {
    for (size_t i = 0; i < files.size(); ++i) {
      std::ofstream o(p.file_paths[i], std::ios::binary);
      o << files[i].contents;
      T2_CHECK(o.good(), "sandbox: cannot write {}", p.file_paths[i]);
    }
    if (p.drop) {
      T2_CHECK_ERRNO(::chown(p.workdir.c_str(), p.uid, p.gid) == 0, "sandbox: chown {}", p.workdir);
      for (auto& fp : p.file_paths) (void)!::chown(fp.c_str(), p.uid, p.gid);
    }
  } else {
    p.tmpfs_options = fmt::format("size={},mode=0700,uid={},gid={}", lim.workdir_bytes,
                                  p.drop ? p.uid : ::geteuid(), p.drop ? p.gid : ::getegid());
    for (auto& mp : readonly_mount_points())
      if (mp != p.workdir) p.readonly.push_back(mp.c_str());
  }

  std::vector<std::string> argv_s = {opt_.python, "-B", files[0].name};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                                    "HOME=" + p.workdir, "TMPDIR=" + p.workdir, "PYTHONDONTWRITEBYTECODE=1",
                                    "PYTHONIOENCODING=utf-8", "PYTHONHASHSEED=0", "OMP_NUM_THREADS=1",
                                    "OPENBLAS_NUM_THREADS=1"};
  for (auto& s : argv_s) p.argv.push_back(s.data());
  p.argv.push_back(nullptr);
  for (auto& s : env_s) p.envp.push_back(s.data());
  p.envp.push_back(nullptr);

  int out_p[2], err_p[2], res_p[2], st_p[2];
  T2_CHECK_ERRNO(::pipe2(out_p, O_CLOEXEC) == 0 && ::pipe2(err_p, O_CLOEXEC) == 0 &&
                     ::pipe2(res_p, O_CLOEXEC) == 0 && ::pipe2(st_p, O_CLOEXEC) == 0,
                 "sandbox: pipe");
  auto t0 = Clock::now();
  pid_t sup = ::fork();
  T2_CHECK_ERRNO(sup >= 0, "sandbox: fork");
  if (sup == 0) {
    // C: the supervisor, leader of a new session and process group.
    ::setsid();
    ::close(out_p[0]);
    ::close(err_p[0]);
    ::close(res_p[0]);
    ::close(st_p[0]);
    int flags = (p.pid_ns ? CLONE_NEWPID : 0) | (p.net_ns ? CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS : 0) |
                (p.mount_ns ? CLONE_NEWNS : 0);
    if (flags && ::unshare(flags) != 0) die(err_p[1], "t2 sandbox: unshare");
    pid_t self = ::getpid();
    pid_t g = ::fork();
    if (g < 0) die(err_p[1], "t2 sandbox: fork");
    if (g == 0) {
      // the pipe ends must survive exec in P: drop O_CLOEXEC on the copies P will dup2
      run_init(p, self, out_p[1], err_p[1], res_p[1], st_p[1]);
    }
    ::close(out_p[1]);
    ::close(err_p[1]);
    ::close(res_p[1]);
    ::close(st_p[1]);
    int st;
    while (::waitpid(g, &st, 0) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(out_p[1]);
  ::close(err_p[1]);
  ::close(res_p[1]);
  ::close(st_p[1]);

  SandboxResult r;
  int fds[4] = {out_p[0], err_p[0], res_p[0], st_p[0]};
  for (int fd : fds) set_nonblock(fd);
  std::string status_bytes;
  const Deadline deadline = Deadline::after(lim.wall);
  bool sup_reaped = false, killed = false;
  std::optional<Clock::time_point> drain_until;
  size_t total_out = 0;
  char buf[65536];
  auto kill_all = [&] {
    ::kill(-sup, SIGKILL);
    killed = true;
  };
  while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0 || fds[3] >= 0 || !sup_reaped) {
    if (!sup_reaped) {
      int st;
      if (::waitpid(sup, &st, WNOHANG) == sup) {
        sup_reaped = true;
        drain_until = Clock::now() + std::chrono::milliseconds(500);
      }
    }
    if (!killed && deadline.expired()) {
      r.timed_out = true;
      kill_all();
      if (!drain_until) drain_until = Clock::now() + std::chrono::milliseconds(500);
    }
    if (drain_until && Clock::now() > *drain_until && sup_reaped) break;
    struct pollfd pf[4];
    int n = 0;
    for (int fd : fds)
      if (fd >= 0) pf[n++] = {fd, POLLIN, 0};
    if (n == 0) {
      if (!sup_reaped) ::usleep(2000);
      continue;
    }
    ::poll(pf, n, 10);
    for (int i = 0; i < n; ++i) {
      if (!pf[i].revents) continue;
      int fd = pf[i].fd;
      ssize_t k = ::read(fd, buf, sizeof buf);
      if (k > 0) {
        if (fd == fds[3]) {
          status_bytes.append(buf, size_t(k));
          continue;
        }
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
  if (!sup_reaped) {
    ::kill(-sup, SIGKILL);
    int st;
    ::waitpid(sup, &st, 0);
  }
  // Without a PID namespace, processes that left the group (setsid) are found by their private uid.
  if (p.drop && !p.pid_ns) kill_uid(p.uid, p.gid);
  r.wall_seconds = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  if (status_bytes.size() >= sizeof(int) && !r.timed_out) {
    int st;
    std::memcpy(&st, status_bytes.data(), sizeof st);
    if (WIFEXITED(st)) r.exited = true, r.exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  } else if (!r.timed_out && killed) {
    r.signal = SIGKILL;
  }
  return r;
}

}  // namespace t2::tasks
