// The sandbox that runs generated Python. Two isolation levels:
//
//   namespaces (the default, required unless a campaign or the CLI opts out): every program runs
//     under bubblewrap (`bwrap`, Debian's `bubblewrap`) in new user, PID, network, mount, IPC and UTS
//     namespaces, which an ordinary user may create. Its file system is a fresh tmpfs root holding
//     only the Python installation and the system libraries read-only (/usr, the /bin /lib links, a
//     few files of /etc), a private /proc and /dev, and a size-limited tmpfs work directory
//     (/sandbox, also HOME and TMPDIR). No home directory, run directory, project tree or host /tmp
//     is visible; only the loopback interface of its own network namespace exists. When the program
//     ends (or is killed at its deadline) the PID namespace ends and the kernel kills every process
//     still in it, daemons included.
//   rlimits (explicit opt-out, `sandbox.isolation: rlimits`): the same rlimits, session and deadline
//     without namespaces. It does not keep the program from reading or writing what t2's user may,
//     nor from the network, and (as non-root) a daemon that leaves the process group survives.
//
// Both levels: RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC (inside the user namespace, so it
// counts this program's processes only; as root, each program also gets a private uid), RLIMIT_NOFILE,
// RLIMIT_CORE = 0; a scrubbed environment; stdin from /dev/null; stdout/stderr captured up to a cap;
// a wall-clock deadline after which t2 SIGKILLs the supervisor's process group. The supervisor (a
// small forked process that starts bwrap and waits for it) closes every inherited file descriptor
// except its pipes, so no sandbox process holds a lock or file of t2, and has PR_SET_PDEATHSIG: when
// t2 dies it SIGKILLs its process group (bwrap and the namespace's PID 1 with it).
//
// When namespaces are required but the kernel refuses them, constructing a Sandbox throws a
// UsageError (exit 2) that names the kernel setting to change (fail closed).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace t2::tasks {

enum class SandboxIsolation { namespaces, rlimits };

// "namespaces" / "rlimits"; parse_sandbox_isolation throws UsageError for anything else.
std::string to_string(SandboxIsolation level);
SandboxIsolation parse_sandbox_isolation(const std::string& text);

struct SandboxLimits {
  Seconds wall{10};                      // parent-enforced deadline for the whole program
  double cpu_seconds = 0;                // RLIMIT_CPU; 0 = ceil(wall) + 1
  uint64_t memory_bytes = 4ull << 30;    // RLIMIT_AS (evalplus uses 4 GiB), per process
  uint64_t file_bytes = 16ull << 20;     // RLIMIT_FSIZE: the largest file it may write
  uint64_t workdir_bytes = 64ull << 20;  // size of the tmpfs work directory (namespaces)
  uint64_t max_processes = 32;           // RLIMIT_NPROC, threads included
  uint64_t max_open_files = 64;          // RLIMIT_NOFILE
  size_t max_output_bytes = 1u << 20;    // per stream; the rest is discarded and flagged
};

struct SandboxOptions {
  std::string python = "/usr/bin/python3";
  SandboxLimits limits;
  SandboxIsolation isolation = SandboxIsolation::namespaces;  // the level required
  std::string bwrap;  // the bubblewrap binary; "" = bwrap on PATH, else /usr/bin/bwrap
};

// The isolation in force for a Sandbox (what was reached, not what was asked for).
struct SandboxInfo {
  SandboxIsolation level = SandboxIsolation::rlimits;
  bool user_namespace = false, pid_namespace = false, network_namespace = false, mount_namespace = false;
  bool private_uid = false;  // root: each program runs as its own unprivileged uid
  std::string bwrap;         // the bubblewrap binary used (namespaces)
  std::string note;          // what is missing and why
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
  // Throws UsageError when options.isolation is namespaces and this machine cannot provide them.
  explicit Sandbox(SandboxOptions opt = {});
  const SandboxInfo& info() const { return info_; }
  const SandboxOptions& options() const { return opt_; }

  // Runs `python <files[0].name> args...` with the files in a fresh working directory; stdin holds
  // `stdin_data` (a socket the program reads to EOF), or /dev/null when it is empty. Thread-safe:
  // many programs may run at once from different threads. Never waits past limits.wall (+ ~1 s).
  SandboxResult run_python(const std::vector<SandboxFile>& files, const std::vector<std::string>& args = {},
                           const SandboxLimits* limits = nullptr, const std::string& stdin_data = "") const;

 private:
  SandboxOptions opt_;
  SandboxInfo info_;
};

// What `opt` reaches on this machine: probed once per (isolation, python, bwrap) and cached. Never
// throws; for namespaces that do not work, level is rlimits and note says why and what to change.
const SandboxInfo& probe_sandbox_support(const SandboxOptions& opt = {});

// The message a code task stops with when namespaces are required but unavailable: the failure, the
// kernel settings as read from /proc/sys, and how to opt out.
std::string sandbox_unavailable_message(const SandboxInfo& info);

}  // namespace t2::tasks
