// The coordinator's HTTP status server (Boost.Asio + Beast) on its own thread:
//   GET /status   JSON snapshot (the status callback)            200 application/json
//   GET /metrics  Prometheus text exposition (the metrics callback) 200 text/plain; version=0.0.4
//   HEAD on both; another method on them: 405; another path: 404; a request that does not parse or is
//   too large: 400 and the connection is closed.
// It listens on 127.0.0.1 by default; any non-loopback address must be asked for explicitly
// (allow_non_loopback, set by the `--status-bind ADDRESS` flag). Every connection has a deadline for
// reading a request and for writing the answer, header and body size limits, and the number of open
// connections is capped (at the cap, the connection that has waited longest for its request is closed
// to make room), so a malformed, slow or idle client can neither stall nor crash the coordinator. A callback that throws gives a 500.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/deadline.h"

namespace t2 {

struct StatusServerOptions {
  std::string bind_address = "127.0.0.1";
  bool allow_non_loopback = false;   // true only when the user gave --status-bind
  uint16_t port = 0;                 // 0: an ephemeral port (see StatusServer::port())
  Seconds read_timeout{5};           // to receive one whole request
  Seconds write_timeout{5};          // to send one answer
  size_t header_limit = 8 * 1024;
  size_t body_limit = 16 * 1024;
  size_t max_connections = 64;
};

struct StatusServerCounters {
  uint64_t connections = 0;
  uint64_t rejected_connections = 0;  // closed at once: at the cap with every connection answering
  uint64_t evicted_connections = 0;   // closed to make room: the longest-waiting idle or slow one
  uint64_t requests = 0, bad_requests = 0, timeouts = 0;
};

class StatusServer {
 public:
  using StatusFn = std::function<nlohmann::json()>;
  using MetricsFn = std::function<std::string()>;

  // Binds and starts serving. UsageError for a bad or non-loopback address without the explicit flag;
  // Error when the port cannot be bound.
  StatusServer(StatusServerOptions options, StatusFn status, MetricsFn metrics);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  uint16_t port() const;
  std::string address() const;       // "127.0.0.1:40123"
  StatusServerCounters counters() const;
  // Stops accepting, closes every connection and joins the thread (bounded by `deadline`).
  void stop(Deadline deadline = Deadline::after(Seconds(10)));

  struct Impl;  // Boost.Beast stays in the .cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace t2
