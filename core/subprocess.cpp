#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "core/check.h"

extern char** environ;

namespace t2 {

std::string SubprocessResult::describe() const {
  std::string s;
  if (timed_out) s = "killed after its deadline";
  else if (exited) s = fmt::format("exit {}", exit_code);
  else if (signal) s = fmt::format("killed by signal {}", signal);
  else s = "unknown end";
  if (output_truncated) s += " (output truncated)";
  return s;
}

namespace {

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

SubprocessResult run_subprocess(const std::vector<std::string>& argv, const SubprocessOptions& opt) {
  T2_CHECK(!argv.empty(), "run_subprocess: empty argv");
  int in_pipe[2], out_pipe[2], err_pipe[2], exec_pipe[2];
  T2_CHECK_ERRNO(::pipe2(in_pipe, O_CLOEXEC) == 0 && ::pipe2(out_pipe, O_CLOEXEC) == 0 &&
                     ::pipe2(err_pipe, O_CLOEXEC) == 0 && ::pipe2(exec_pipe, O_CLOEXEC) == 0,
                 "pipe");

  // Build env and argv before fork (no allocation in the child).
  std::vector<std::string> env_strings;
  if (!opt.clear_env) {
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos && opt.env_set.count(kv.substr(0, eq))) continue;
      env_strings.push_back(kv);
    }
  }
  for (const auto& [k, v] : opt.env_set) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  // PATH lookup in the parent: execvpe would use the child's (possibly cleared) PATH.
  std::string prog = argv[0];
  if (prog.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      std::string cand = p.substr(start, end - start) + "/" + argv[0];
      if (::access(cand.c_str(), X_OK) == 0) {
        prog = cand;
        break;
      }
      start = end + 1;
    }
  }

  auto t0 = Clock::now();
  pid_t pid = ::fork();
  T2_CHECK_ERRNO(pid >= 0, "fork for '{}'", argv[0]);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (opt.cwd && ::chdir(opt.cwd->c_str()) != 0) {
      int e = errno;
      (void)!::write(exec_pipe[1], &e, sizeof e);
      ::_exit(127);
    }
    ::execve(prog.c_str(), args.data(), envp.data());
    int e = errno;
    (void)!::write(exec_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // both sides, to avoid the race
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t got = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  ::close(exec_pipe[0]);
  if (got == sizeof exec_errno) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    int st;
    ::waitpid(pid, &st, 0);
    T2_FAIL("cannot start '{}': {}", argv[0], std::strerror(exec_errno));
  }

  SubprocessResult r;
  std::string input = opt.stdin_data.value_or("");
  size_t in_off = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    set_nonblock(in_fd);
  }
  set_nonblock(out_pipe[0]);
  set_nonblock(err_pipe[0]);
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  const Deadline deadline = Deadline::after(opt.timeout);
  std::optional<Clock::time_point> killed_at;
  bool reaped = false;
  int status = 0;
  char buf[65536];
  ::signal(SIGPIPE, SIG_IGN);

  while (!reaped || out_fd >= 0 || err_fd >= 0) {
    if (!reaped) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) reaped = true;
    }
    if (!reaped && !killed_at && deadline.expired()) {
      r.timed_out = true;
      ::kill(-pid, SIGTERM);
      killed_at = Clock::now();
    }
    if (!reaped && killed_at && Clock::now() - *killed_at > opt.kill_grace) ::kill(-pid, SIGKILL);
    // After the direct child is gone, grandchildren may keep the pipes open: stop reading once
    // the deadline (plus grace) has passed so that an escaped process cannot hang us.
    if (reaped && (deadline.expired() || killed_at)) {
      ::kill(-pid, SIGKILL);
      if (out_fd >= 0) ::close(out_fd), out_fd = -1;
      if (err_fd >= 0) ::close(err_fd), err_fd = -1;
      break;
    }
    struct pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    ::poll(fds, n, 20);
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      if (fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + in_off, input.size() - in_off);
        if (w > 0) in_off += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in_off = input.size();
        if (in_off >= input.size()) ::close(in_fd), in_fd = -1;
        continue;
      }
      ssize_t k = ::read(fd, buf, sizeof buf);
      if (k > 0) {
        std::string& dst = fd == out_fd ? r.out : r.err;
        size_t room = dst.size() < opt.max_output_bytes ? opt.max_output_bytes - dst.size() : 0;
        dst.append(buf, std::min(room, static_cast<size_t>(k)));
        if (static_cast<size_t>(k) > room) r.output_truncated = true;
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        if (fd == out_fd) out_fd = -1; else err_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  if (!reaped) ::waitpid(pid, &status, 0);
  r.wall_seconds = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  if (WIFEXITED(status)) r.exited = true, r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace t2
