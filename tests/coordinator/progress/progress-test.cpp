// Progress formatting (durations, rates, ETA from a sliding window) and the two renderers: in place
// on a real pseudo-terminal (openpty), plain lines on a pipe.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include "coordinator/progress.h"

namespace t2 {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) return out;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(3 * 60 + 5), "3m05s");
  EXPECT_EQ(format_duration(3600 + 2 * 60 + 10), "1h02m");
  EXPECT_EQ(format_duration(2 * 86400 + 3 * 3600 + 59), "2d03h");
  EXPECT_EQ(format_duration(-1), "--");
  EXPECT_EQ(format_duration(1.0 / 0.0), "--");
}

TEST(Progress, Rates) {
  EXPECT_EQ(format_rate(0), "--");
  EXPECT_EQ(format_rate(0.25), "0.25/s");
  EXPECT_EQ(format_rate(12.34), "12.3/s");
  EXPECT_EQ(format_rate(1234.4), "1234/s");
}

TEST(Progress, RateAndEtaOverTheWindow) {
  ProgressTracker t(Seconds(3));
  const auto t0 = Clock::now();
  t.update("eval", 0, 1000, "running", t0);
  EXPECT_EQ(t.rows()[0].rate, 0);
  EXPECT_LT(t.rows()[0].eta_seconds, 0);
  t.update("eval", 100, 1000, "running", t0 + seconds(2));
  EXPECT_DOUBLE_EQ(t.rows()[0].rate, 50.0);        // 100 units in 2 s
  EXPECT_DOUBLE_EQ(t.rows()[0].eta_seconds, 18.0); // 900 left at 50/s
  t.update("eval", 300, 1000, "running", t0 + seconds(4));
  // The window is 3 s and one sample at or before its start (1 s) is kept: 0 s..4 s, 300 units.
  EXPECT_DOUBLE_EQ(t.rows()[0].rate, 75.0);
  EXPECT_NEAR(t.rows()[0].eta_seconds, 700.0 / 75.0, 1e-9);
  t.update("eval", 500, 1000, "running", t0 + seconds(6));
  // Window start 3 s: the 0 s sample goes, the 2 s one stays: (500 - 100) / 4 s.
  EXPECT_DOUBLE_EQ(t.rows()[0].rate, 100.0);
  EXPECT_DOUBLE_EQ(t.rows()[0].eta_seconds, 5.0);
  t.update("eval", 1000, 1000, "done", t0 + seconds(7));
  EXPECT_EQ(t.rows()[0].eta_seconds, 0);
  // A restarted job (its count goes down) starts a fresh window.
  t.update("eval", 10, 1000, "running", t0 + seconds(8));
  EXPECT_EQ(t.rows()[0].rate, 0);
}

TEST(Progress, BarAndLines) {
  EXPECT_EQ(progress_bar(5, 10, 10), "[#####.....]");
  EXPECT_EQ(progress_bar(0, 0, 4), "[....]");
  EXPECT_EQ(progress_bar(12, 10, 4), "[####]");
  ProgressRow r{"evaluate-gsm8k-llama3-8b-svf-expert-math", "running", 512, 1319, 12.3, 65.6};
  const std::string line = progress_line(r, 100);
  EXPECT_LE(line.size(), 100u);
  EXPECT_NE(line.find("512/1319"), std::string::npos) << line;
  EXPECT_NE(line.find(" 38.8%"), std::string::npos) << line;
  EXPECT_NE(line.find("12.3/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 1m06s"), std::string::npos) << line;
  EXPECT_EQ(progress_line(r, 40).size(), 40u);
  EXPECT_EQ(progress_log_line(r), "progress evaluate-gsm8k-llama3-8b-svf-expert-math: 512/1319 (38.8%), 12.3/s, ETA 1m06s, running");
}

TEST(Progress, TerminalRendererRedrawsInPlaceOnAPty) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  winsize ws{};
  ws.ws_col = 80;
  ws.ws_row = 24;
  ::ioctl(slave, TIOCSWINSZ, &ws);
  auto r = make_progress_renderer(slave);
  EXPECT_TRUE(r->is_terminal());
  const auto t0 = Clock::now();
  std::vector<ProgressRow> rows = {{"a", "running", 1, 4, 1, 3}, {"b", "running", 0, 8, 0, -1}};
  r->render(rows, t0);
  std::string first = drain(master);
  EXPECT_EQ(first.find("\x1b[2A"), std::string::npos) << "nothing to move over yet";
  EXPECT_NE(first.find("\x1b[2K"), std::string::npos);
  rows[0].done = 2;
  r->render(rows, t0 + milliseconds(10));  // within the minimum interval: skipped
  EXPECT_EQ(drain(master), "");
  r->render(rows, t0 + milliseconds(500));
  std::string second = drain(master);
  EXPECT_EQ(second.rfind("\x1b[3A", 0), 0u) << "redraw must start by moving up over the campaign line and two jobs";
  EXPECT_NE(second.find("2/4"), std::string::npos);
  EXPECT_NE(second.find("campaign: 0/2 jobs done, 2 running, 0 failed"), std::string::npos) << second;
  // Every drawn line fits the 80 columns (no wrapping).
  size_t start = 0;
  while (true) {
    size_t k = second.find("\x1b[2K", start);
    if (k == std::string::npos) break;
    size_t e = second.find_first_of("\r\n", k);
    EXPECT_LE(e - (k + 4), 79u);
    start = k + 4;
  }
  ::close(slave);
  ::close(master);
}

TEST(Progress, PlainRendererLogsEveryIntervalOnAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto r = make_progress_renderer(fds[1], Seconds(5));
  EXPECT_FALSE(r->is_terminal());
  const auto t0 = Clock::now();
  std::vector<ProgressRow> rows = {{"train", "running", 3, 10, 0.5, 14},
                                   {"eval", "waiting", 0, 5, 0, -1},
                                   {"decompose", "ready", 0, 0, 0, -1},
                                   {"search", "running", 0, 0, 0, -1}};
  r->render(rows, t0);
  std::string out = drain(fds[0]);
  EXPECT_EQ(out, "progress campaign: 0/4 jobs done, 2 running, 0 failed, 2 waiting, elapsed 0s\n"
                 "progress train: 3/10 (30.0%), 0.50/s, ETA 14s, running\n");
  r->render(rows, t0 + seconds(1));
  EXPECT_EQ(drain(fds[0]), "");
  rows[0] = {"train", "done", 10, 10, 0.5, 0};
  rows[1].state = "running";
  r->render(rows, t0 + seconds(6));
  out = drain(fds[0]);
  EXPECT_NE(out.find("progress campaign: 1/4 jobs done, 2 running, 0 failed, 1 waiting, elapsed 6s\n"),
            std::string::npos) << out;
  EXPECT_NE(out.find("progress train: 10/10 (100.0%)"), std::string::npos) << out;
  EXPECT_NE(out.find("progress eval: 0/5"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no escape codes in logs";
  r->render(rows, t0 + seconds(12), true);
  out = drain(fds[0]);
  EXPECT_EQ(out.find("train"), std::string::npos) << "a finished job is logged once: " << out;
  // Jobs that have not started never get a line, not even the final one: no "0/0 (0.0%)".
  for (const char* s : {"decompose", "search", "0/0"}) EXPECT_EQ(out.find(s), std::string::npos) << s << ": " << out;
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Progress, CampaignLine) {
  std::vector<ProgressRow> rows = {{"a", "done", 1, 1, 0, 0},    {"b", "failed", 0, 1, 0, -1},
                                   {"c", "running", 2, 4, 1, 2}, {"d", "waiting", 0, 0, 0, -1},
                                   {"e", "ready", 0, 0, 0, -1},  {"f", "skipped", 0, 0, 0, -1}};
  auto s = summarize_progress(rows);
  EXPECT_EQ(s.jobs, 6u);
  EXPECT_EQ(s.done, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.running, 1u);
  EXPECT_EQ(s.waiting, 2u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(progress_campaign_line(s, 65, 0),
            "campaign: 1/6 jobs done, 1 running, 1 failed, 1 skipped, 2 waiting, elapsed 1m05s");
  const std::string wide = progress_campaign_line(s, 65, 100);
  EXPECT_LE(wide.size(), 100u);
  EXPECT_EQ(wide.rfind("[", 0), 0u) << "the campaign's bar in front: " << wide;
}

}  // namespace
}  // namespace t2
