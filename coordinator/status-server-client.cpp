#include "coordinator/status-server-client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/check.h"

namespace t2 {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int wait_for(int fd, short events, const Deadline& deadline, const std::string& what) {
  for (;;) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.remaining()).count();
    if (ms <= 0) throw TimeoutError("status server: " + what + ": deadline passed");
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
    if (r > 0) return p.revents;
    T2_CHECK_ERRNO(r == 0 || errno == EINTR, "status server: poll while {}", what);
  }
}

}  // namespace

std::string status_server_get(const std::string& address, uint16_t port, const std::string& path,
                              Deadline deadline) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  T2_CHECK_AS(UsageError, ::inet_pton(AF_INET, address.c_str(), &a.sin_addr) == 1,
              "status server address '{}' is not an IPv4 address", address);
  Fd s;
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  T2_CHECK_ERRNO(s.fd >= 0, "socket");
  const std::string where = address + ":" + std::to_string(port);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    T2_CHECK_ERRNO(errno == EINPROGRESS, "cannot connect to the status server at {}", where);
    wait_for(s.fd, POLLOUT, deadline, "connecting to " + where);
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    errno = err;
    T2_CHECK_ERRNO(err == 0, "cannot connect to the status server at {} (is `t2 run` running there?)", where);
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + where + "\r\nConnection: close\r\n\r\n";
  for (size_t off = 0; off < req.size();) {
    wait_for(s.fd, POLLOUT, deadline, "sending to " + where);
    const ssize_t n = ::send(s.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    T2_CHECK_ERRNO(n >= 0 || errno == EAGAIN || errno == EINTR, "sending to the status server at {}", where);
    if (n > 0) off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[16384];
  for (;;) {
    wait_for(s.fd, POLLIN, deadline, "reading from " + where);
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      T2_CHECK_ERRNO(errno == EAGAIN || errno == EINTR, "reading from the status server at {}", where);
      continue;
    }
    resp.append(buf, static_cast<size_t>(n));
    T2_CHECK(resp.size() < (64u << 20), "the status server at {} sent more than 64 MiB", where);
  }
  const auto eol = resp.find("\r\n");
  const std::string status_line = resp.substr(0, eol);
  T2_CHECK(status_line.rfind("HTTP/1.1 200", 0) == 0 || status_line.rfind("HTTP/1.0 200", 0) == 0,
           "the status server at {} answered '{}' to GET {}", where, status_line, path);
  const auto body = resp.find("\r\n\r\n");
  T2_CHECK(body != std::string::npos, "the status server at {} sent an answer without a header end", where);
  return resp.substr(body + 4);
}

}  // namespace t2
