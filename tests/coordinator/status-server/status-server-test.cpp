// The status server over real sockets on 127.0.0.1: the endpoints, the address rule, and a fuzz run
// (thousands of random and truncated requests, slowloris connections, oversized headers, a connection
// flood) during which a checker keeps asking GET /status and must always get its answer in time.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "coordinator/scheduler.h"
#include "coordinator/status-server-metrics.h"
#include "coordinator/status-server.h"
#include "coordinator/work-batches.h"
#include "core/error.h"

namespace t2 {
namespace {

using Clock = std::chrono::steady_clock;

// A blocking-free client: connect, send, read until close or deadline. Only 127.0.0.1.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool send(const std::string& data) {
    size_t off = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (off < data.size() && Clock::now() < deadline) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 50);
      } else {
        return false;
      }
    }
    return off == data.size();
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // Reads until the peer closes or `timeout` passes; sets closed() accordingly.
  std::string read_all(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed_ = true;
        return out;
      }
    }
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

std::string get(uint16_t port, const std::string& target, const std::string& method = "GET",
                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  Client c(port);
  if (!c.connected()) return "";
  c.send(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  return c.read_all(timeout);
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

// A real scheduler snapshot as the payload: two jobs, one finished.
struct Fixture {
  std::shared_ptr<BatchDriver> d1 = std::make_shared<BatchDriver>("eval-batch", 4, 2);
  Scheduler sched{{JobSpec{"eval \"gsm8k\"", "evaluate", "llama3-8b", {}, d1},
                   JobSpec{"train", "train-expert", "llama3-8b", {"eval \"gsm8k\""},
                           std::make_shared<BatchDriver>("shard", 3, 1)}},
                  {1, 3}};
  Fixture() {
    auto t = Clock::now();
    auto a = sched.assign(0, t);
    WorkResult r;
    r.item_id = a->id;
    sched.on_result(r, t);
    sched.assign(1, t);  // leaves group 1 busy
  }
  StatusServer::StatusFn status() {
    return [this] { return scheduler_snapshot_json(sched.snapshot()); };
  }
  StatusServer::MetricsFn metrics() {
    return [this] { return prometheus_metrics(sched.snapshot()); };
  }
};

TEST(StatusServer, ServesStatusAndMetrics) {
  Fixture f;
  StatusServer server({}, f.status(), f.metrics());
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.address().rfind("127.0.0.1:", 0), 0u);

  std::string r = get(server.port(), "/status");
  ASSERT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("application/json"), std::string::npos);
  auto j = nlohmann::json::parse(body_of(r));
  EXPECT_EQ(j["jobs"][0]["id"], "eval \"gsm8k\"");
  EXPECT_EQ(j["jobs"][0]["units_done"], 2);
  EXPECT_EQ(j["jobs"][0]["units_total"], 4);
  EXPECT_EQ(j["groups"][1]["state"], "busy");
  EXPECT_EQ(j["groups"][1]["rank"], 3);

  r = get(server.port(), "/metrics?x=1");
  ASSERT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string m = body_of(r);
  EXPECT_NE(m.find("t2_jobs_total{state=\"running\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("t2_jobs_total{state=\"waiting\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("t2_job_progress{job=\"eval \\\"gsm8k\\\"\",kind=\"evaluate\",model=\"llama3-8b\"} 0.5\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("t2_worker_busy{group=\"1\",rank=\"3\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("t2_worker_busy{group=\"0\",rank=\"1\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE t2_worker_items_total counter\n"), std::string::npos) << m;

  EXPECT_EQ(get(server.port(), "/nope").rfind("HTTP/1.1 404", 0), 0u);
  std::string post = get(server.port(), "/status", "POST");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET"), std::string::npos);
  std::string bad = get(server.port(), "/status", "G E T");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
}

TEST(StatusServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Fixture f;
  StatusServer server({}, f.status(), f.metrics());
  Client c(server.port());
  ASSERT_TRUE(c.connected());
  std::string req = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send(req + req + "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string all = c.read_all(std::chrono::milliseconds(3000));
  size_t n = 0;
  for (size_t p = 0; (p = all.find("HTTP/1.1 200", p)) != std::string::npos; ++p) ++n;
  EXPECT_EQ(n, 3u);
  EXPECT_TRUE(c.closed());
}

TEST(StatusServer, OtherAddressesNeedTheExplicitFlag) {
  StatusServerOptions o;
  o.bind_address = "0.0.0.0";
  try {
    StatusServer s(o, nullptr, nullptr);
    FAIL() << "bound 0.0.0.0 without the flag";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--status-bind 0.0.0.0"), std::string::npos) << e.what();
  }
  o.bind_address = "localhost:80";
  EXPECT_THROW(StatusServer(o, nullptr, nullptr), UsageError);
  // The port in use is an error naming it, not a crash.
  StatusServer first({}, nullptr, nullptr);
  StatusServerOptions same;
  same.port = first.port();
  EXPECT_THROW(StatusServer(same, nullptr, nullptr), Error);
}

TEST(StatusServer, ThrowingCallbackGives500AndTheServerGoesOn) {
  int calls = 0;
  StatusServer server({}, [&]() -> nlohmann::json {
    if (++calls == 1) throw std::runtime_error("snapshot failed");
    return {{"ok", true}};
  }, nullptr);
  EXPECT_EQ(get(server.port(), "/status").rfind("HTTP/1.1 500", 0), 0u);
  EXPECT_EQ(get(server.port(), "/status").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(StatusServer, SurvivesFuzzSlowlorisAndFloods) {
  Fixture f;
  StatusServerOptions o;
  // The slow connections below stay open for this long: the checker must be answered meanwhile.
  o.read_timeout = Seconds(8);
  o.write_timeout = Seconds(8);
  o.max_connections = 48;
  StatusServer server(o, f.status(), f.metrics());
  const uint16_t port = server.port();

  // Slowloris: 16 connections that dribble a header and never finish it; the server must keep
  // answering others meanwhile and drop them after its read deadline.
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<Client>(port));
    slow.back()->send("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  }
  // Wait (bounded, only to catch a hang) until the server holds all 16.
  const auto accept_deadline = Clock::now() + std::chrono::seconds(60);
  while (server.counters().connections < 16 && Clock::now() < accept_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(server.counters().connections, 16u);

  // The checker: a valid request every 20 ms; each must be answered (the 60 s bound only catches
  // a hung server). Head-of-line blocking is judged by events, not by the clock: some answers must
  // arrive while all 16 slow connections are still open (none timed out or evicted yet).
  std::atomic<bool> done{false};
  std::atomic<int> checks{0}, check_failures{0}, answered_while_slow_open{0};
  std::atomic<int64_t> worst_ms{0};
  std::string first_failure;
  std::thread checker([&] {
    while (!done) {
      const auto t0 = Clock::now();
      std::string r = get(port, checks % 2 ? "/metrics" : "/status", "GET", std::chrono::milliseconds(60000));
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      worst_ms = std::max<int64_t>(worst_ms, ms);
      if (r.rfind("HTTP/1.1 200", 0) != 0) {
        if (check_failures++ == 0) first_failure = r.empty() ? "(no answer)" : r.substr(0, 200);
      } else {
        auto c = server.counters();
        if (c.timeouts == 0 && c.evicted_connections == 0) ++answered_while_slow_open;
      }
      ++checks;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::thread dribbler([&] {
    for (int k = 0; k < 10 && !done; ++k) {
      for (auto& c : slow) c->send("a");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  // Random and truncated requests from 3 threads, 1100 each.
  const std::vector<std::string> prefixes = {
      "GET /status HTTP/1.1\r\nHost: x\r\n",
      "GET /metrics HTTP/1.1\r\nContent-Length: 100000000\r\n\r\nabc",
      "POST /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
      "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n",
      "GET /status HTTP/1.1\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n",  // over the header limit
      "GET /status HTTP/9.9\r\n\r\n",
      "\r\n\r\n\r\n",
      "GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
  };
  std::atomic<int> sent{0}, answered_400{0};
  auto fuzz = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 1100; ++i) {
      Client c(port);
      if (!c.connected()) continue;
      std::string data;
      const int mode = static_cast<int>(rng() % 4);
      if (mode == 0) {  // random bytes
        data.resize(rng() % 1500);
        for (auto& ch : data) ch = static_cast<char>(rng());
      } else {          // a known nasty request, truncated at a random point, maybe with noise after it
        const auto& p = prefixes[rng() % prefixes.size()];
        data = p.substr(0, rng() % (p.size() + 1));
        if (mode == 2)
          for (int k = rng() % 64; k > 0; --k) data += static_cast<char>(rng());
      }
      c.send(data);
      ++sent;
      if (rng() % 8 == 0) {  // sometimes wait for the verdict on a finished request
        c.shutdown_write();
        std::string r = c.read_all(std::chrono::milliseconds(1500));
        if (r.rfind("HTTP/1.1 400", 0) == 0) ++answered_400;
      }
    }
  };
  std::vector<std::thread> fuzzers;
  for (unsigned s = 1; s <= 3; ++s) fuzzers.emplace_back(fuzz, s);
  for (auto& t : fuzzers) t.join();
  dribbler.join();

  // The slowloris connections are closed by the server at its read deadline (the generous wait
  // only bounds a server that never closes them).
  int slow_closed = 0;
  for (auto& c : slow) {
    c->read_all(std::chrono::milliseconds(120000));
    slow_closed += c->closed();
  }
  EXPECT_EQ(slow_closed, 16);

  // A flood of idle connections over the cap: the oldest idle ones are evicted to make room, so valid
  // requests (the checker's and this one) are still answered during the flood.
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 80; ++i) flood.push_back(std::make_unique<Client>(port));
  EXPECT_EQ(get(port, "/status").rfind("HTTP/1.1 200", 0), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  flood.clear();

  done = true;
  checker.join();
  EXPECT_EQ(sent.load(), 3300);
  EXPECT_GT(answered_400.load(), 0);
  EXPECT_GT(checks.load(), 20);
  EXPECT_EQ(check_failures.load(), 0) << "first failure: " << first_failure;
  EXPECT_GE(answered_while_slow_open.load(), 3) << "the slow connections blocked the valid requests";
  auto c = server.counters();
  EXPECT_GT(c.bad_requests, 100u);
  EXPECT_GE(c.timeouts, 16u);
  EXPECT_GE(c.evicted_connections, 80u - 48u);
  std::cout << "fuzz: " << sent << " requests, " << c.bad_requests << " bad, " << c.timeouts << " timeouts, "
            << c.evicted_connections << " evicted; checker " << checks << " checks, worst " << worst_ms
            << " ms, " << check_failures << " failed, " << answered_while_slow_open
            << " answered while the 16 slow connections were open\n";
}

}  // namespace
}  // namespace t2
