// Progress of running jobs: rates and ETAs from a sliding window of samples, and two renderers fed
// from the same rows (every job of the campaign, whatever its state):
//   terminal (isatty)  one live display redrawn in place: the campaign line (jobs done / running /
//                      failed / waiting, elapsed) and a bar per running job with its rate and ETA
//   logs, Slurm        every N seconds the campaign line and one line per running job (and per job
//                      finished since); a job that has not started gets no line
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace t2 {

struct ProgressRow {
  std::string job, state;
  uint64_t done = 0, total = 0;
  double rate = 0;          // units per second over the window; 0 when not known yet
  double eta_seconds = -1;  // < 0 when not known
};

class ProgressTracker {
 public:
  explicit ProgressTracker(Seconds window = Seconds(30));
  // Records a job's progress at `now`. A job whose count goes down (restarted) starts a new window.
  void update(const std::string& job, uint64_t done, uint64_t total, const std::string& state, Clock::time_point now);
  std::vector<ProgressRow> rows() const;  // in the order jobs were first seen

 private:
  struct Job {
    ProgressRow row;
    std::deque<std::pair<Clock::time_point, uint64_t>> samples;
  };
  Seconds window_;
  std::vector<std::string> order_;
  std::map<std::string, Job> jobs_;
};

std::string format_duration(double seconds);            // "42s", "3m05s", "1h02m", "2d03h"; "--" when unknown
std::string format_rate(double units_per_second);       // "12.3/s", "0.25/s", "--"
std::string progress_bar(uint64_t done, uint64_t total, int width);  // "[#####.....]", width inside brackets
std::string progress_line(const ProgressRow& r, int columns);        // one terminal line, at most `columns` wide
std::string progress_log_line(const ProgressRow& r);                 // one plain log line

struct ProgressSummary {
  uint64_t jobs = 0, done = 0, running = 0, failed = 0, skipped = 0, waiting = 0;  // waiting: and ready
};
ProgressSummary summarize_progress(const std::vector<ProgressRow>& rows);
// "campaign: 3/28 jobs done, 2 running, 0 failed, 23 waiting, elapsed 1m05s", with the campaign's bar
// in front when `columns` > 0 leaves room for it (then at most `columns` wide).
std::string progress_campaign_line(const ProgressSummary& s, double elapsed_seconds, int columns);

class ProgressRenderer {
 public:
  virtual ~ProgressRenderer() = default;
  // Draws (or logs) the rows; `final` forces output (the last state at the end of a run).
  virtual void render(const std::vector<ProgressRow>& rows, Clock::time_point now, bool final = false) = 0;
  virtual bool is_terminal() const = 0;
};

// Redraws the rows in place: cursor up over the previous drawing, clear each line, rewrite. Lines are
// cut to the terminal width so that wrapping never breaks the cursor arithmetic. At most one redraw
// per `min_interval`.
std::unique_ptr<ProgressRenderer> make_terminal_progress(int fd, Seconds min_interval = Seconds(0.1));
// Every `interval`: the campaign line, one line per running job and per job finished since.
std::unique_ptr<ProgressRenderer> make_plain_progress(int fd, Seconds interval = Seconds(30));
// The terminal renderer when `fd` is a TTY, else the plain one.
std::unique_ptr<ProgressRenderer> make_progress_renderer(int fd, Seconds log_interval = Seconds(30));

}  // namespace t2
