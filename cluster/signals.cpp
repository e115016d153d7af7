#include "cluster/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>

#include "core/check.h"

namespace t2 {

namespace {

std::atomic<int> g_signal{0};
int g_pipe[2] = {-1, -1};
std::once_flag g_pipe_once;

void on_signal(int sig) {
  const int saved = errno;
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  if (g_pipe[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &b, 1);  // full pipe: already readable, fine
  }
  errno = saved;
}

void make_pipe() {
  std::call_once(g_pipe_once, [] {
    T2_CHECK_ERRNO(::pipe(g_pipe) == 0, "preemption self-pipe");
    for (int fd : g_pipe) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  });
}

void set_handler(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  T2_CHECK_ERRNO(::sigaction(sig, &sa, nullptr) == 0, "sigaction({})", sig);
}

}  // namespace

void install_preemption_handlers() {
  make_pipe();
  set_handler(SIGUSR1, on_signal);
  set_handler(SIGTERM, on_signal);
}

void remove_preemption_handlers() {
  set_handler(SIGUSR1, SIG_DFL);
  set_handler(SIGTERM, SIG_DFL);
}

bool preemption_requested() { return g_signal.load() != 0; }

int preemption_signal() { return g_signal.load(); }

void clear_preemption() {
  make_pipe();
  char buf[64];
  while (::read(g_pipe[0], buf, sizeof buf) > 0) {
  }
  g_signal.store(0);
}

int preemption_wake_fd() {
  make_pipe();
  return g_pipe[0];
}

bool wait_for_preemption(double timeout_s) {
  make_pipe();
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!preemption_requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{g_pipe[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  return true;
}

}  // namespace t2
