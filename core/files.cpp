#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/check.h"

namespace t2 {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) T2_FAIL_AS(UsageError, "cannot open '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  T2_CHECK_ERRNO(fd >= 0, "open '{}' for fsync", path);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  errno = err;
  T2_CHECK_ERRNO(rc == 0, "fsync '{}'", path);
}

namespace {
// The host's name as one path-safe word: temporary names are "<path>.tmp.<host>-<pid>.<n>", unique
// across the hosts that share a run directory (pids repeat from host to host).
const std::string& host_word() {
  static const std::string word = [] {
    char h[256] = {0};
    if (::gethostname(h, sizeof h - 1) != 0 || !h[0]) return std::string("host");
    std::string w;
    for (const char* c = h; *c && *c != '.'; ++c)
      w += (std::isalnum(static_cast<unsigned char>(*c)) || *c == '-') ? *c : '_';
    return w.empty() ? std::string("host") : w;
  }();
  return word;
}
}  // namespace

std::string temp_path_beside(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}.tmp.{}-{}.{}", path, host_word(), ::getpid(), counter++);
}

void rename_durable(const std::string& from, const std::string& to) {
  T2_CHECK_ERRNO(::rename(from.c_str(), to.c_str()) == 0, "rename '{}' -> '{}'", from, to);
  auto dir = std::filesystem::path(to).parent_path();
  fsync_path(dir.empty() ? "." : dir.string());
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  const std::string tmp = temp_path_beside(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  T2_CHECK_ERRNO(fd >= 0, "create '{}'", tmp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = err;
      T2_CHECK_ERRNO(false, "write '{}'", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    T2_CHECK_ERRNO(false, "fsync/close '{}'", tmp);
  }
  rename_durable(tmp, path);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  T2_CHECK(!ec, "cannot create directory '{}': {}", path, ec.message());
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace t2
