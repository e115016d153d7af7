// The pieces together, as `t2 run` will use them: a scheduler running jobs on in-process worker
// groups, the status server answering from live snapshots, and progress lines from the same state.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "coordinator/progress.h"
#include "coordinator/scheduler.h"
#include "coordinator/status-server-client.h"
#include "coordinator/status-server-metrics.h"
#include "coordinator/status-server.h"
#include "coordinator/work-batches.h"
#include "coordinator/work-transport-threads.h"
#include "core/error.h"

namespace t2 {
namespace {

std::string http_get(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[8192];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

TEST(LiveCampaign, StatusAndProgressFollowTheScheduler) {
  // Group 0 holds its first item until a scrape has shown it busy: the live state is observed by
  // construction, not because the scrapes happened to be fast enough (60 s only catches a hang).
  std::atomic<bool> seen_busy{false}, held{false};
  ThreadTransport tr(2, [&](const WorkItem& item, ThreadTransport::Context& ctx) {
    if (ctx.group == 0 && !held.exchange(true)) {
      const auto until = Clock::now() + std::chrono::seconds(60);
      while (!seen_busy && Clock::now() < until && !ctx.stopping()) ctx.sleep_for(Seconds(0.005));
    }
    ctx.sleep_for(Seconds(0.01));
    if (item.job == "eval-bad") throw std::runtime_error("tokenizer mismatch");
    return std::string();
  });
  SchedulerOptions opt;
  opt.item_timeout = Seconds(120);
  opt.max_attempts = 2;
  opt.poll_interval = Seconds(0.02);
  Scheduler sched({JobSpec{"eval-a", "evaluate", "m", {}, std::make_shared<BatchDriver>("eval-batch", 120, 4)},
                   JobSpec{"eval-bad", "evaluate", "m", {}, std::make_shared<BatchDriver>("eval-batch", 8, 4)},
                   JobSpec{"report", "evaluate", "m", {"eval-a", "eval-bad"},
                           std::make_shared<BatchDriver>("eval-batch", 1, 1)}},
                  {1, 2}, opt);
  StatusServer server({}, [&] { return scheduler_snapshot_json(sched.snapshot()); },
                      [&] { return prometheus_metrics(sched.snapshot()); });

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto renderer = make_progress_renderer(fds[1], Seconds(0.05));
  ProgressTracker tracker;
  std::vector<std::string> seen_metrics;
  std::thread watcher([&] {
    while (!sched.finished()) {
      seen_metrics.push_back(http_get(server.port(), "/metrics"));
      const auto& m = seen_metrics.back();
      if (m.find("t2_campaign_finished 0") != std::string::npos &&
          m.find("t2_worker_busy{group=\"0\",rank=\"1\"} 1") != std::string::npos)
        seen_busy = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });
  // Progress from the same snapshots, as the run loop's on_tick would do.
  std::thread ticker([&] {
    while (!sched.finished()) {
      const auto now = Clock::now();
      for (const auto& j : sched.snapshot().jobs)
        tracker.update(j.id, j.units_done, j.units_total, job_state_name(j.state), now);
      renderer->render(tracker.rows(), now);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  EXPECT_EQ(sched.run(tr), 1);  // eval-bad fails, report is skipped
  watcher.join();
  ticker.join();
  const auto now = Clock::now();
  for (const auto& j : sched.snapshot().jobs)
    tracker.update(j.id, j.units_done, j.units_total, job_state_name(j.state), now);
  renderer->render(tracker.rows(), now, true);

  bool saw_running = false;
  for (const auto& m : seen_metrics)
    saw_running |= m.find("t2_campaign_finished 0") != std::string::npos &&
                   m.find("t2_worker_busy{group=\"0\",rank=\"1\"} 1") != std::string::npos;
  EXPECT_TRUE(saw_running) << seen_metrics.size() << " scrapes";
  const std::string last = http_get(server.port(), "/metrics");
  EXPECT_NE(last.find("t2_campaign_finished 1"), std::string::npos) << last;
  EXPECT_NE(last.find("t2_jobs_total{state=\"done\"} 1"), std::string::npos) << last;
  EXPECT_NE(last.find("t2_jobs_total{state=\"failed\"} 1"), std::string::npos) << last;
  EXPECT_NE(last.find("t2_jobs_total{state=\"skipped\"} 1"), std::string::npos) << last;
  // Both items of eval-bad throw; the job fails once one of them used its 2 attempts (the other one's
  // answers may still arrive): 2 to 4 failed attempts.
  const std::string key = "t2_job_failures_total{job=\"eval-bad\"} ";
  ASSERT_NE(last.find(key), std::string::npos) << last;
  const int failures = std::stoi(last.substr(last.find(key) + key.size()));
  EXPECT_GE(failures, 2);
  EXPECT_LE(failures, 4);
  // What `t2 status --port N` reads.
  auto body = nlohmann::json::parse(status_server_get("127.0.0.1", server.port(), "/status"));
  EXPECT_EQ(body["jobs"][0]["units_done"], 120);
  EXPECT_NE(body["jobs"][1]["reason"].get<std::string>().find("tokenizer mismatch"), std::string::npos);

  ::close(fds[1]);
  std::string log;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) log.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  EXPECT_NE(log.find("progress eval-a: 120/120 (100.0%)"), std::string::npos) << log;
  EXPECT_NE(log.find("progress eval-bad:"), std::string::npos) << log;
  EXPECT_NE(log.find(", failed"), std::string::npos) << log;
}

TEST(LiveCampaign, StatusClientErrorsAreBounded) {
  StatusServer server({}, [] { return nlohmann::json{{"ok", 1}}; }, nullptr);
  EXPECT_EQ(nlohmann::json::parse(status_server_get("127.0.0.1", server.port(), "/status"))["ok"], 1);
  try {
    status_server_get("127.0.0.1", server.port(), "/nope");
    FAIL() << "404 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("404"), std::string::npos) << e.what();
  }
  const uint16_t port = server.port();
  server.stop();
  EXPECT_THROW(status_server_get("127.0.0.1", port, "/status"), Error);
  EXPECT_THROW(status_server_get("not-an-ip", port, "/status"), UsageError);
  // A listener that never answers: the deadline ends the wait.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const auto t0 = Clock::now();
  EXPECT_THROW(status_server_get("127.0.0.1", ntohs(a.sin_port), "/status", Deadline::after(Seconds(0.3))),
               TimeoutError);
  EXPECT_LT(std::chrono::duration_cast<Seconds>(Clock::now() - t0).count(), 2.0);
  ::close(fd);
}

}  // namespace
}  // namespace t2
