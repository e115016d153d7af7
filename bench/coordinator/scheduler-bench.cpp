// The scheduler's own overhead: no-op items over 4 in-process worker groups, pull-based (a group gets
// its next item when it returns one). Reference in the same run: the same pull pattern over a plain
// mutex + condition-variable queue with no scheduling logic. Prints items/s of both and the ratio.
//   t2_bench_scheduler [ITEMS] [GROUPS]
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "coordinator/scheduler.h"
#include "coordinator/work-batches.h"
#include "coordinator/work-transport-threads.h"

using namespace t2;

namespace {

// The reference: per-group inbox, one shared outbox, the main thread refills the group that answered.
double plain_queue_items_per_second(uint64_t items, int groups) {
  struct Box {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<uint64_t> q;
  };
  std::vector<Box> in(static_cast<size_t>(groups));
  Box out;
  std::vector<std::thread> threads;
  for (int g = 0; g < groups; ++g)
    threads.emplace_back([&, g] {
      for (;;) {
        uint64_t v;
        {
          std::unique_lock<std::mutex> l(in[g].mu);
          in[g].cv.wait(l, [&] { return !in[g].q.empty(); });
          v = in[g].q.front();
          in[g].q.pop_front();
        }
        if (v == UINT64_MAX) return;
        {
          std::lock_guard<std::mutex> l(out.mu);
          out.q.push_back(v * 1000 + static_cast<uint64_t>(g));
        }
        out.cv.notify_one();
      }
    });
  auto send = [&](int g, uint64_t v) {
    {
      std::lock_guard<std::mutex> l(in[g].mu);
      in[g].q.push_back(v);
    }
    in[g].cv.notify_one();
  };
  const auto t0 = Clock::now();
  uint64_t next = 0, done = 0;
  for (int g = 0; g < groups && next < items; ++g) send(g, next++);
  while (done < items) {
    uint64_t r;
    {
      std::unique_lock<std::mutex> l(out.mu);
      out.cv.wait(l, [&] { return !out.q.empty(); });
      r = out.q.front();
      out.q.pop_front();
    }
    ++done;
    if (next < items) send(static_cast<int>(r % 1000), next++);
  }
  const double s = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  for (int g = 0; g < groups; ++g) send(g, UINT64_MAX);
  for (auto& t : threads) t.join();
  return static_cast<double>(items) / s;
}

double scheduler_items_per_second(uint64_t items, int groups) {
  ThreadTransport tr(groups, [](const WorkItem&, ThreadTransport::Context&) { return std::string(); });
  std::vector<int> ranks;
  for (int g = 0; g < groups; ++g) ranks.push_back(g + 1);
  SchedulerOptions opt;
  opt.item_timeout = Seconds(60);
  Scheduler s({JobSpec{"bench", "evaluate", "m", {}, std::make_shared<BatchDriver>("noop", items, 1)}}, ranks, opt);
  const auto t0 = Clock::now();
  const int rc = s.run(tr);
  const double sec = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
  if (rc != 0) std::fprintf(stderr, "scheduler run failed with exit code %d\n", rc);
  return static_cast<double>(items) / sec;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t items = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const int groups = argc > 2 ? std::atoi(argv[2]) : 4;
  // Warm up both paths once, then measure.
  plain_queue_items_per_second(items / 10, groups);
  scheduler_items_per_second(items / 10, groups);
  const double ref = plain_queue_items_per_second(items, groups);
  const double sch = scheduler_items_per_second(items, groups);
  std::printf("scheduler dispatch, %llu no-op items over %d in-process groups\n",
              static_cast<unsigned long long>(items), groups);
  std::printf("  plain queue (reference): %10.0f items/s  %7.2f us/item\n", ref, 1e6 / ref);
  std::printf("  t2 scheduler           : %10.0f items/s  %7.2f us/item\n", sch, 1e6 / sch);
  std::printf("  ratio scheduler/reference: %.3f; scheduler overhead %.2f us/item\n", sch / ref, 1e6 / sch - 1e6 / ref);
  return 0;
}
