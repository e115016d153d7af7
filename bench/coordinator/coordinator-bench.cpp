// Rank 0 at scale: the scheduler with 128 in-process worker groups and 2,000 jobs over 4 models (half
// of them depending on the other half), every job 50 items, run by a synthetic executor that answers
// at once with a 64-byte payload. Prints dispatched items/s, the process's peak RSS after a run with
// 200 jobs and after one with 2,000 (memory grows with the jobs' bookkeeping only), and how long the
// scheduler's lock was held (count, mean, max): the status server and the transport wait on it.
//   t2_bench_coordinator [GROUPS] [JOBS] [ITEMS_PER_JOB]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

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

struct Result {
  double items_per_second = 0;
  SchedulerSnapshot snap;
  int rc = 0;
};

Result run(int groups, int jobs, uint64_t items_per_job) {
  ThreadTransport tr(groups, [](const WorkItem&, ThreadTransport::Context&) { return std::string(64, 'r'); });
  std::vector<int> ranks;
  for (int g = 0; g < groups; ++g) ranks.push_back(g + 1);
  std::vector<JobSpec> specs;
  for (int j = 0; j < jobs; ++j) {
    std::vector<std::string> deps;
    if (j >= jobs / 2) deps.push_back("job" + std::to_string(j - jobs / 2));
    specs.push_back(JobSpec{"job" + std::to_string(j), "evaluate", "model" + std::to_string(j % 4), deps,
                            std::make_shared<BatchDriver>("generate", items_per_job, 1)});
  }
  SchedulerOptions opt;
  opt.item_timeout = Seconds(600);
  Scheduler s(std::move(specs), ranks, opt);
  const auto t0 = Clock::now();
  Result r;
  r.rc = s.run(tr);
  const double sec = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  r.snap = s.snapshot();
  r.items_per_second = static_cast<double>(r.snap.items_dispatched) / sec;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int groups = argc > 1 ? std::atoi(argv[1]) : 128;
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 2000;
  const uint64_t items = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 50;
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
  return big.rc;
}
