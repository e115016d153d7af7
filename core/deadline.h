// Deadlines and the named timeouts of t2. Every blocking call (receive, collective, subprocess,
// lock) takes a Deadline; when it passes the call throws t2::TimeoutError naming what it waited for.
#pragma once

#include <chrono>
#include <string>

namespace t2 {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

class Deadline {
 public:
  static Deadline after(Seconds d) { return Deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(d)); }
  static Deadline at(Clock::time_point t) { return Deadline(t); }

  Clock::time_point when() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  Seconds remaining() const {
    auto r = at_ - Clock::now();
    return r.count() > 0 ? std::chrono::duration_cast<Seconds>(r) : Seconds(0);
  }
  // Throws TimeoutError("<what>: deadline of <total> s passed") when expired.
  void check(const std::string& what) const;

 private:
  explicit Deadline(Clock::time_point t) : at_(t) {}
  Clock::time_point at_;
};

// Named defaults; each can be overridden in the campaign (`timeouts:`) or by the caller.
namespace timeouts {
inline constexpr Seconds collective{300};      // one TP collective (NCCL or MPI)
inline constexpr Seconds control_message{600}; // coordinator waits this long for one worker reply
inline constexpr Seconds model_load{3600};     // loading a 70B shard from network storage
inline constexpr Seconds sandbox_program{10};  // one generated program, wall clock
inline constexpr Seconds file_lock{5};         // acquiring a run-directory lock
inline constexpr Seconds slurm_command{60};    // sbatch / squeue / sacct / scancel
}  // namespace timeouts

}  // namespace t2
