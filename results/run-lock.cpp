#include "results/run-lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <thread>

#include "core/check.h"
#include "core/files.h"
#include "results/run-layout.h"
#include "results/run-records.h"

namespace t2::results {

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

RunLock RunLock::acquire(const std::string& run_dir, Deadline deadline) {
  make_dirs(run_dir);
  const std::string path = run_dir + "/" + layout::lock_file;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  T2_CHECK_ERRNO(fd >= 0, "cannot open the lock file '{}'", path);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      ::close(fd);
      errno = err;
      T2_CHECK_ERRNO(false, "flock '{}'", path);
    }
    if (deadline.expired()) {
      ::close(fd);
      std::string who = holder(run_dir);
      T2_FAIL("run directory '{}' is being written by another live t2 process ({}); only one writer at a "
              "time: wait for it to finish or stop it (lock file {})",
              run_dir, who.empty() ? "holder unknown" : who, path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string text = fmt::format("pid {} host {} since {}\n", ::getpid(), host_name(), utc_now_iso());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    int err = errno;
    ::close(fd);
    errno = err;
    T2_CHECK_ERRNO(false, "cannot write the lock file '{}'", path);
  }
  RunLock l;
  l.fd_ = fd;
  return l;
}

RunLock::RunLock(RunLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

RunLock& RunLock::operator=(RunLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() { release(); }

void RunLock::release() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
  }
}

std::string RunLock::holder(const std::string& run_dir) {
  const std::string path = run_dir + "/" + layout::lock_file;
  if (!path_exists(path)) return "";
  try {
    return trim(read_file(path));
  } catch (const Error&) {
    return "";
  }
}

}  // namespace t2::results
