#include "coordinator/work-transport-threads.h"

#include <spdlog/spdlog.h>

#include "core/check.h"

namespace t2 {

bool ThreadTransport::Context::stopping() const { return owner->stop_.load(); }

bool ThreadTransport::Context::sleep_for(Seconds d) const {
  std::unique_lock<std::mutex> lock(owner->stop_mu_);
  return !owner->stop_cv_.wait_for(lock, d, [this] { return owner->stop_.load(); });
}

void ThreadTransport::Context::heartbeat() const {
  WorkResult r;
  r.item_id = item_id;
  r.group = group;
  r.heartbeat = true;
  {
    std::lock_guard<std::mutex> lock(owner->out_mu_);
    owner->outbox_.push_back(std::move(r));
  }
  owner->out_cv_.notify_one();
}

ThreadTransport::ThreadTransport(int groups, Executor executor) : executor_(std::move(executor)) {
  T2_CHECK(groups >= 1, "an in-process transport needs at least one group, got {}", groups);
  for (int g = 0; g < groups; ++g) groups_.push_back(std::make_unique<Group>());
  for (int g = 0; g < groups; ++g) groups_[g]->thread = std::thread([this, g] { loop(g); });
}

ThreadTransport::~ThreadTransport() {
  try {
    shutdown(Deadline::after(Seconds(30)));
  } catch (const std::exception& e) {
    spdlog::error("in-process worker groups: {}", e.what());
  }
}

void ThreadTransport::loop(int g) {
  Group& G = *groups_[g];
  Context ctx;
  ctx.group = g;
  ctx.owner = this;
  for (;;) {
    WorkItem item;
    {
      std::unique_lock<std::mutex> lock(G.mu);
      // Bounded waits: wake every second to look at the stop flag even without a notify.
      while (G.inbox.empty() && !stop_) G.cv.wait_for(lock, std::chrono::seconds(1));
      if (stop_) break;
      item = std::move(G.inbox.front());
      G.inbox.pop_front();
    }
    WorkResult r;
    r.item_id = item.id;
    r.group = g;
    ctx.item_id = item.id;
    const auto t0 = Clock::now();
    try {
      r.payload = executor_(item, ctx);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    } catch (...) {
      r.ok = false;
      r.error = "unknown exception";
    }
    ctx.loaded_model = item.model;
    r.seconds = std::chrono::duration_cast<Seconds>(Clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      outbox_.push_back(std::move(r));
    }
    out_cv_.notify_one();
  }
  std::lock_guard<std::mutex> lock(G.mu);
  G.exited = true;
  G.cv.notify_all();
}

void ThreadTransport::send(int group, const WorkItem& item) {
  T2_CHECK(group >= 0 && group < groups(), "no worker group {}", group);
  Group& G = *groups_[group];
  {
    std::lock_guard<std::mutex> lock(G.mu);
    G.inbox.push_back(item);
  }
  G.cv.notify_one();
}

std::optional<WorkResult> ThreadTransport::poll(Deadline deadline) {
  std::unique_lock<std::mutex> lock(out_mu_);
  // A wait with an expired deadline still costs a timed futex call (~0.2 ms here): look first.
  if (outbox_.empty() && deadline.expired()) return std::nullopt;
  if (!out_cv_.wait_until(lock, deadline.when(), [this] { return !outbox_.empty(); })) return std::nullopt;
  WorkResult r = std::move(outbox_.front());
  outbox_.pop_front();
  return r;
}

void ThreadTransport::shutdown(Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  std::vector<int> stuck;
  for (size_t g = 0; g < groups_.size(); ++g) {
    Group& G = *groups_[g];
    G.cv.notify_all();
    std::unique_lock<std::mutex> lock(G.mu);
    if (G.cv.wait_until(lock, deadline.when(), [&] { return G.exited; })) {
      lock.unlock();
      G.thread.join();
    } else {
      stuck.push_back(static_cast<int>(g));
    }
  }
  // A thread whose executor ignores the stop flag cannot be joined within the deadline: leave it
  // detached rather than hang, and say so.
  for (int g : stuck) groups_[g]->thread.detach();
  T2_CHECK_AS(TimeoutError, stuck.empty(), "{} in-process worker group(s) did not stop before the deadline",
              stuck.size());
}

}  // namespace t2
