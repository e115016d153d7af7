#include "coordinator/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fmt/format.h>

namespace t2 {

ProgressTracker::ProgressTracker(Seconds window) : window_(window) {}

void ProgressTracker::update(const std::string& job, uint64_t done, uint64_t total, const std::string& state,
                             Clock::time_point now) {
  auto [it, fresh] = jobs_.try_emplace(job);
  if (fresh) order_.push_back(job);
  Job& j = it->second;
  if (!j.samples.empty() && done < j.samples.back().second) j.samples.clear();
  j.samples.emplace_back(now, done);
  // Keep one sample at or before the window start so the rate always spans the whole window.
  const auto start = now - std::chrono::duration_cast<Clock::duration>(window_);
  while (j.samples.size() > 2 && j.samples[1].first <= start) j.samples.pop_front();
  j.row.job = job;
  j.row.state = state;
  j.row.done = done;
  j.row.total = total;
  const auto& first = j.samples.front();
  const double span = std::chrono::duration_cast<Seconds>(now - first.first).count();
  j.row.rate = span > 0 ? static_cast<double>(done - first.second) / span : 0;
  if (total > 0 && done >= total)
    j.row.eta_seconds = 0;
  else if (j.row.rate > 0 && total > done)
    j.row.eta_seconds = static_cast<double>(total - done) / j.row.rate;
  else
    j.row.eta_seconds = -1;
}

std::vector<ProgressRow> ProgressTracker::rows() const {
  std::vector<ProgressRow> out;
  for (const auto& id : order_) out.push_back(jobs_.at(id).row);
  return out;
}

std::string format_duration(double s) {
  if (!(s >= 0) || std::isinf(s)) return "--";
  const auto t = static_cast<uint64_t>(std::llround(s));
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  if (t < 86400) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  return fmt::format("{}d{:02}h", t / 86400, (t % 86400) / 3600);
}

std::string format_rate(double r) {
  if (!(r > 0) || std::isinf(r)) return "--";
  if (r >= 100) return fmt::format("{:.0f}/s", r);
  if (r >= 1) return fmt::format("{:.1f}/s", r);
  return fmt::format("{:.2f}/s", r);
}

std::string progress_bar(uint64_t done, uint64_t total, int width) {
  if (width < 1) width = 1;
  const uint64_t filled = total == 0 ? 0 : std::min<uint64_t>(width, done * static_cast<uint64_t>(width) / total);
  return "[" + std::string(filled, '#') + std::string(static_cast<size_t>(width) - filled, '.') + "]";
}

static double percent(const ProgressRow& r) {
  return r.total ? 100.0 * static_cast<double>(r.done) / static_cast<double>(r.total) : 0.0;
}

std::string progress_line(const ProgressRow& r, int columns) {
  const std::string tail = fmt::format(" {}/{} {:5.1f}% {} ETA {} {}", r.done, r.total, percent(r), format_rate(r.rate),
                                       format_duration(r.eta_seconds), r.state);
  const int name_w = std::clamp(columns / 3, 24, 48);  // job ids are long: give them a third of a wide line
  std::string name = r.job.size() > static_cast<size_t>(name_w) ? r.job.substr(0, name_w - 1) + "~" : r.job;
  const int bar_w = std::max(10, columns - name_w - 3 - static_cast<int>(tail.size()));
  std::string line = fmt::format("{:<{}} {}{}", name, name_w, progress_bar(r.done, r.total, bar_w), tail);
  if (columns > 0 && line.size() > static_cast<size_t>(columns)) line.resize(static_cast<size_t>(columns));
  return line;
}

std::string progress_log_line(const ProgressRow& r) {
  return fmt::format("progress {}: {}/{} ({:.1f}%), {}, ETA {}, {}", r.job, r.done, r.total, percent(r),
                     format_rate(r.rate), format_duration(r.eta_seconds), r.state);
}

ProgressSummary summarize_progress(const std::vector<ProgressRow>& rows) {
  ProgressSummary s;
  s.jobs = rows.size();
  for (const auto& r : rows) {
    if (r.state == "done") ++s.done;
    else if (r.state == "failed") ++s.failed;
    else if (r.state == "skipped") ++s.skipped;
    else if (r.state == "running") ++s.running;
    else ++s.waiting;
  }
  return s;
}

std::string progress_campaign_line(const ProgressSummary& s, double elapsed_seconds, int columns) {
  const uint64_t finished = s.done + s.failed + s.skipped;
  std::string line = fmt::format("campaign: {}/{} jobs done, {} running, {} failed", s.done, s.jobs, s.running, s.failed);
  if (s.skipped) line += fmt::format(", {} skipped", s.skipped);
  if (s.waiting) line += fmt::format(", {} waiting", s.waiting);
  line += ", elapsed " + format_duration(elapsed_seconds);
  if (columns > 0) {
    const int bar_w = columns - static_cast<int>(line.size()) - 3;
    if (bar_w >= 10) line = progress_bar(finished, s.jobs, bar_w) + " " + line;
    if (line.size() > static_cast<size_t>(columns)) line.resize(static_cast<size_t>(columns));
  }
  return line;
}

namespace {

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  // A bounded number of retries: progress output is never worth blocking the coordinator on.
  for (int tries = 0; off < s.size() && tries < 100; ++tries) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n > 0) off += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR && errno != EAGAIN) return;
  }
}

bool finished_state(const std::string& s) { return s == "done" || s == "failed" || s == "skipped"; }

// A job that has not started: waiting on dependencies, ready but not handed out, or running with
// nothing counted yet (its size is not known before its first unit).
bool not_started(const ProgressRow& r) {
  return r.state == "waiting" || r.state == "ready" || (r.state == "running" && r.done == 0 && r.total == 0);
}

class TerminalProgress : public ProgressRenderer {
 public:
  TerminalProgress(int fd, Seconds min_interval) : fd_(fd), min_interval_(min_interval) {}
  bool is_terminal() const override { return true; }
  void render(const std::vector<ProgressRow>& rows, Clock::time_point now, bool final) override {
    if (!final && drawn_once_ && now - last_ < std::chrono::duration_cast<Clock::duration>(min_interval_)) return;
    if (!drawn_once_) start_ = now;
    drawn_once_ = true;
    last_ = now;
    int columns = 100;
    winsize ws{};
    if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) columns = ws.ws_col;
    // One display for the whole campaign: the summary, then a bar per running job (the first few).
    std::vector<std::string> lines;
    const double elapsed = std::chrono::duration_cast<Seconds>(now - start_).count();
    lines.push_back(progress_campaign_line(summarize_progress(rows), elapsed, columns - 1));
    size_t shown = 0, running = 0;
    for (const auto& r : rows) {
      if (r.state != "running") continue;
      ++running;
      if (shown < kMaxJobLines) lines.push_back(progress_line(r, columns - 1)), ++shown;
    }
    if (running > shown) lines.push_back(fmt::format("  ... and {} more running", running - shown));
    std::string out;
    if (lines_ > 0) out += fmt::format("\x1b[{}A", lines_);  // back to the first line of the last drawing
    for (const auto& l : lines) out += "\r\x1b[2K" + l + "\n";
    for (size_t k = lines.size(); k < lines_; ++k) out += "\r\x1b[2K\n";  // clear leftovers
    lines_ = std::max(lines_, lines.size());
    write_all(fd_, out);
  }

 private:
  static constexpr size_t kMaxJobLines = 8;
  int fd_;
  Seconds min_interval_;
  size_t lines_ = 0;
  bool drawn_once_ = false;
  Clock::time_point last_{}, start_{};
};

class PlainProgress : public ProgressRenderer {
 public:
  PlainProgress(int fd, Seconds interval) : fd_(fd), interval_(interval) {}
  bool is_terminal() const override { return false; }
  void render(const std::vector<ProgressRow>& rows, Clock::time_point now, bool final) override {
    if (!final && printed_once_ && now - last_ < std::chrono::duration_cast<Clock::duration>(interval_)) return;
    if (!printed_once_) start_ = now;
    printed_once_ = true;
    last_ = now;
    // Every interval: the campaign in one line, then one line per job that is running (with
    // something counted) or finished since the last time; never a line for a job not started.
    std::string out =
        "progress " + progress_campaign_line(summarize_progress(rows),
                                             std::chrono::duration_cast<Seconds>(now - start_).count(), 0) + "\n";
    for (const auto& r : rows) {
      const bool ended = finished_state(r.state);
      if (ended && reported_ended_[r.job]) continue;  // a finished job is logged once
      if (ended) reported_ended_[r.job] = true;
      if (!ended && not_started(r)) continue;
      out += progress_log_line(r) + "\n";
    }
    write_all(fd_, out);
  }

 private:
  int fd_;
  Seconds interval_;
  bool printed_once_ = false;
  Clock::time_point last_{}, start_{};
  std::map<std::string, bool> reported_ended_;
};

}  // namespace

std::unique_ptr<ProgressRenderer> make_terminal_progress(int fd, Seconds min_interval) {
  return std::make_unique<TerminalProgress>(fd, min_interval);
}

std::unique_ptr<ProgressRenderer> make_plain_progress(int fd, Seconds interval) {
  return std::make_unique<PlainProgress>(fd, interval);
}

std::unique_ptr<ProgressRenderer> make_progress_renderer(int fd, Seconds log_interval) {
  if (::isatty(fd)) return make_terminal_progress(fd);
  return make_plain_progress(fd, log_interval);
}

}  // namespace t2
