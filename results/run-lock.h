// The single-writer lock of a run directory: RUN_DIR/.lock, held with flock(LOCK_EX) for the life
// of the writer. The kernel drops it when the process dies (kill -9 included), so there are no stale
// locks; the file's text ("pid 1234 host node7 since 2026-...") names the holder for the error message.
#pragma once

#include <string>

#include "core/deadline.h"

namespace t2::results {

class RunLock {
 public:
  // Retries until `deadline`; then throws t2::Error "run directory ... is being written by pid P on
  // host H (since T)".
  static RunLock acquire(const std::string& run_dir, Deadline deadline);

  RunLock() = default;
  RunLock(RunLock&& o) noexcept;
  RunLock& operator=(RunLock&& o) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  bool held() const { return fd_ >= 0; }
  void release();

  // The holder text of a lock file ("" when none), for `t2 status` and messages.
  static std::string holder(const std::string& run_dir);

 private:
  int fd_ = -1;
};

}  // namespace t2::results
