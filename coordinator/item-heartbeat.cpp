#include "coordinator/item-heartbeat.h"

#include <spdlog/spdlog.h>

namespace t2 {

ItemHeartbeat::ItemHeartbeat(Seconds interval, std::function<void()> beat) {
  const auto every = std::chrono::duration_cast<Clock::duration>(std::max(interval, Seconds(0.01)));
  thread_ = std::thread([this, every, beat = std::move(beat)] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
      lock.unlock();
      try {
        beat();
      } catch (const std::exception& e) {
        spdlog::warn("heartbeat: {}", e.what());
      }
      lock.lock();
    }
  });
}

ItemHeartbeat::~ItemHeartbeat() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace t2
