// Run a program with a deadline and captured output. The child gets its own process group; when the
// deadline passes the whole group is killed (SIGTERM, then SIGKILL after a grace period) and the
// result says so. Never waits without a bound. The code sandbox (jobs/) builds on the same pieces
// but adds rlimits and namespaces.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace t2 {

struct SubprocessOptions {
  Seconds timeout{60};
  std::optional<std::string> stdin_data;          // closed stdin when empty
  std::optional<std::string> cwd;
  std::map<std::string, std::string> env_set;     // added to (or replacing in) the parent's environment
  bool clear_env = false;                         // start from an empty environment (then env_set only)
  size_t max_output_bytes = 16u << 20;            // per stream; the rest is discarded and flagged
  Seconds kill_grace{1};
};

struct SubprocessResult {
  int exit_code = -1;   // valid when exited
  int signal = 0;       // the signal that ended it, if any
  bool exited = false;
  bool timed_out = false;
  bool output_truncated = false;
  std::string out, err;
  double wall_seconds = 0;
  bool ok() const { return exited && exit_code == 0 && !timed_out; }
  std::string describe() const;  // "exit 0", "killed by signal 9 after deadline of 5 s", ...
};

// argv[0] is looked up in PATH. Throws t2::Error only when the program cannot be started at all.
SubprocessResult run_subprocess(const std::vector<std::string>& argv, const SubprocessOptions& opt = {});

}  // namespace t2
