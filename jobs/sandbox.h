// The sandbox that runs generated Python. Each program gets:
//   - its own session and process group, and (when the kernel allows) new PID, network, mount, IPC
//     and UTS namespaces: PID 1 of the namespace is a small t2 init that reaps and, when it exits,
//     takes every process of the program with it (double forks and setsid included);
//   - a fresh working directory (a size-limited tmpfs inside the mount namespace), removed afterwards;
//     every other mount is read-only inside the namespace, so /tmp, /dev/shm and the project stay
//     untouched;
//   - an unprivileged uid/gid (when started as root; one per concurrent program so that RLIMIT_NPROC
//     counts per program and programs cannot signal each other);
//   - RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_CORE = 0;
//   - a scrubbed environment (PATH, LANG, HOME = TMPDIR = the work dir, PYTHONDONTWRITEBYTECODE...),
//     stdin closed, stdout/stderr captured up to a cap;
//   - a wall-clock deadline enforced by the parent, which then SIGKILLs the whole process group (and
//     with it the namespace's init, hence everything inside).
// When namespaces or the uid switch are not permitted, t2 logs one warning and SandboxInfo says which
// isolation is active; rlimits, the process group and the deadline always apply.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace t2::tasks {

struct SandboxLimits {
  Seconds wall{10};                      // parent-enforced deadline for the whole program
  double cpu_seconds = 0;                // RLIMIT_CPU; 0 = ceil(wall) + 1
  uint64_t memory_bytes = 4ull << 30;    // RLIMIT_AS (evalplus uses 4 GiB)
  uint64_t file_bytes = 16ull << 20;     // RLIMIT_FSIZE: the largest file it may write
  uint64_t workdir_bytes = 64ull << 20;  // size of the tmpfs working directory (mount namespace only)
  uint64_t max_processes = 32;           // RLIMIT_NPROC (per program uid)
  uint64_t max_open_files = 64;          // RLIMIT_NOFILE
  size_t max_output_bytes = 1u << 20;    // per stream; the rest is discarded and flagged
};

struct SandboxOptions {
  std::string python = "/usr/bin/python3";
  SandboxLimits limits;
  bool use_namespaces = true;   // false: process group + rlimits only
  bool drop_privileges = true;  // switch to an unprivileged uid when running as root
};

// Which isolation is in force (probed once per process).
struct SandboxInfo {
  bool pid_namespace = false;
  bool network_namespace = false;
  bool mount_namespace = false;  // read-only mounts + tmpfs work dir
  bool unprivileged_uid = false;
  std::string note;  // why something is missing
  std::string describe() const;
};

// A file for the program's working directory.
struct SandboxFile {
  std::string name;  // plain file name, no '/'
  std::string contents;
};

struct SandboxResult {
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  bool output_truncated = false;
  std::string out, err;
  std::string result_channel;  // what the program wrote to fd 3 (the harness's verdict line)
  double wall_seconds = 0;
  bool ok() const { return exited && exit_code == 0 && !timed_out; }
  std::string describe() const;
};

class Sandbox {
 public:
  explicit Sandbox(SandboxOptions opt = {});
  const SandboxInfo& info() const { return info_; }
  const SandboxOptions& options() const { return opt_; }

  // Runs `python <files[0].name>` with the files in a fresh working directory. Thread-safe: many
  // programs may run at once from different threads. Never waits past limits.wall (+ ~1 s cleanup).
  SandboxResult run_python(const std::vector<SandboxFile>& files, const std::vector<std::string>& args = {},
                           const SandboxLimits* limits = nullptr) const;

 private:
  SandboxOptions opt_;
  SandboxInfo info_;
};

// The isolation this machine allows (probed once, cached; logs a warning when something is missing).
const SandboxInfo& probe_sandbox_support(bool want_namespaces = true, bool want_uid_drop = true);

}  // namespace t2::tasks
