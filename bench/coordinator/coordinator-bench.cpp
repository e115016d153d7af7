// Rank 0 at scale: the scheduler with 128 in-process worker groups and 2,000 jobs over 4 models (half
// of them depending on the other half), every job 50 items, run by a synthetic executor that answers
// at once with a 64-byte payload. Prints dispatched items/s, the process's peak RSS after a run with
// 200 jobs and after one with 2,000 (memory grows with the jobs' bookkeeping only), and how long the
// scheduler's lock was held (count, mean, max): the status server and the transport wait on it.
// A third run makes every result cost RECORD_US microseconds of work in its driver (a stand-in for the
// HDF5 append of a real evaluation batch) while a status reader (the status server's thread) takes a
// snapshot every millisecond: its line shows how long the lock was held and how long the reader
// waited for a snapshot, i.e. whether record writes run under the scheduler's lock.
//   t2_bench_coordinator [GROUPS] [JOBS] [ITEMS_PER_JOB] [RECORD_US]
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "coordinator/scheduler.h"
#include "coordinator/work-batches.h"
#include "coordinator/work-transport-threads.h"

using namespace t2;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Work of `us` microseconds on this thread (a record write's cost without touching the disk).
void spin_for(double us) {
  const auto until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(us));
  while (Clock::now() < until) {
  }
}

struct Result {
  double items_per_second = 0;
  SchedulerSnapshot snap;
  int rc = 0;
  uint64_t snapshots = 0;
  double snapshot_mean_us = 0, snapshot_max_us = 0;  // the status reader's wait plus copy
};

Result run(int groups, int jobs, uint64_t items_per_job, double record_us = 0, bool status_reader = false) {
  ThreadTransport tr(groups, [](const WorkItem&, ThreadTransport::Context&) { return std::string(64, 'r'); });
  std::vector<int> ranks;
  for (int g = 0; g < groups; ++g) ranks.push_back(g + 1);
  std::vector<JobSpec> specs;
  for (int j = 0; j < jobs; ++j) {
    std::vector<std::string> deps;
    if (j >= jobs / 2) deps.push_back("job" + std::to_string(j - jobs / 2));
    specs.push_back(JobSpec{"job" + std::to_string(j), "evaluate", "model" + std::to_string(j % 4), deps,
                            std::make_shared<BatchDriver>("generate", items_per_job, 1, nullptr,
                                                          [record_us](uint64_t, const WorkResult&) {
                                                            if (record_us > 0) spin_for(record_us);
                                                          })});
  }
  SchedulerOptions opt;
  opt.item_timeout = Seconds(600);
  Scheduler s(std::move(specs), ranks, opt);
  Result r;
  std::atomic<bool> stop{false};
  std::thread reader;
  if (status_reader)
    reader = std::thread([&] {
      double total = 0;
      while (!stop.load()) {
        const auto a = Clock::now();
        (void)s.snapshot();
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - a).count();
        ++r.snapshots;
        total += us;
        r.snapshot_max_us = std::max(r.snapshot_max_us, us);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      r.snapshot_mean_us = r.snapshots ? total / static_cast<double>(r.snapshots) : 0;
    });
  const auto t0 = Clock::now();
  r.rc = s.run(tr);
  const double sec = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  stop = true;
  if (reader.joinable()) reader.join();
  r.snap = s.snapshot();
  r.items_per_second = static_cast<double>(r.snap.items_dispatched) / sec;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int groups = argc > 1 ? std::atoi(argv[1]) : 128;
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 2000;
  const uint64_t items = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 50;
  const double record_us = argc > 4 ? std::atof(argv[4]) : 20;
  const double rss0 = peak_rss_mib();
  const Result small = run(groups, jobs / 10, items);
  const double rss_small = peak_rss_mib();
  const Result big = run(groups, jobs, items);
  const double rss_big = peak_rss_mib();
  std::printf("rank 0 at scale: %d in-process worker groups, synthetic executor (64-byte answers)\n", groups);
  for (const auto* r : {&small, &big}) {
    const auto& s = r->snap;
    std::printf("  %5zu jobs, %7llu items: %9.0f dispatched items/s (exit %d), %llu model loads, lock held %llu times, "
                "mean %.2f us, max %.0f us\n",
                s.jobs.size(), static_cast<unsigned long long>(s.items_dispatched), r->items_per_second, r->rc,
                static_cast<unsigned long long>(s.model_loads), static_cast<unsigned long long>(s.lock_holds),
                s.lock_hold_mean_us, s.lock_hold_max_us);
  }
  std::printf("  peak RSS: %.1f MiB at start, %.1f MiB after %d jobs, %.1f MiB after %d jobs\n", rss0, rss_small,
              jobs / 10, rss_big, jobs);
  std::printf("  target >= 5000 items/s with %d groups: %s\n", groups, big.items_per_second >= 5000 ? "met" : "NOT met");
  const Result io = run(groups, jobs, items, record_us, true);
  std::printf("  %5zu jobs, %.0f us record write per result, status reader every 1 ms: %9.0f dispatched items/s "
              "(exit %d), lock held %llu times, mean %.2f us, max %.0f us; %llu snapshots, mean %.0f us, max %.0f us\n",
              io.snap.jobs.size(), record_us, io.items_per_second, io.rc,
              static_cast<unsigned long long>(io.snap.lock_holds), io.snap.lock_hold_mean_us, io.snap.lock_hold_max_us,
              static_cast<unsigned long long>(io.snapshots), io.snapshot_mean_us, io.snapshot_max_us);
  return big.rc != 0 ? big.rc : io.rc;
}
