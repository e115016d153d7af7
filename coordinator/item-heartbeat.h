// A busy worker's sign of life: while an ItemHeartbeat lives, a thread of its own calls `beat` every
// `interval` (first after one interval). The scheduler restarts an item's deadline on each beat, so
// a slow group that is alive is never taken for hung, while a stopped or dead process (whose threads
// stop with it) misses its deadline. A beat that throws is logged and the beating goes on; the
// destructor stops and joins the thread within one wake-up.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "core/deadline.h"

namespace t2 {

class ItemHeartbeat {
 public:
  ItemHeartbeat(Seconds interval, std::function<void()> beat);
  ~ItemHeartbeat();
  ItemHeartbeat(const ItemHeartbeat&) = delete;
  ItemHeartbeat& operator=(const ItemHeartbeat&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace t2
