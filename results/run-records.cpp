#include "results/run-records.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace t2::results {

const char* job_status_name(JobStatus s) {
  switch (s) {
    case JobStatus::pending: return "pending";
    case JobStatus::running: return "running";
    case JobStatus::failed: return "failed";
    case JobStatus::done: return "done";
  }
  return "?";
}

Metrics Metrics::from_scores(const std::vector<double>& scores) {
  Metrics m;
  m.n = static_cast<int64_t>(scores.size());
  if (m.n == 0) return m;
  double sum = 0;
  for (double s : scores) sum += s;
  m.accuracy = sum / static_cast<double>(m.n);
  m.standard_error = std::sqrt(std::max(0.0, m.accuracy * (1 - m.accuracy)) / static_cast<double>(m.n));
  return m;
}

Metrics Metrics::from_records(const std::vector<ExampleRecord>& records) {
  std::vector<double> s;
  s.reserve(records.size());
  for (auto& r : records) s.push_back(r.score);
  return from_scores(s);
}

std::optional<double> Metrics::get(const std::string& name) const {
  if (name == "accuracy") return accuracy;
  auto it = extra.find(name);
  if (it == extra.end()) return std::nullopt;
  return it->second;
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string prompt_hash(std::string_view prompt) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : prompt) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace t2::results
