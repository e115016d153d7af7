#include "cluster/mpi-runtime.h"

#include <sched.h>
#include <unistd.h>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "core/check.h"

namespace t2 {

namespace {
int g_thread_level = -1;

// MPI_Finalize waits for every rank; a peer that is stopped or hung would hold this one forever. A
// watchdog ends the process (exit code 3) when the finalize takes longer than kFinalizeDeadline, and
// mpirun / srun then take the job down with a non-zero status.
constexpr int kFinalizeDeadlineSeconds = 60;

void finalize_at_exit() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return;
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(kFinalizeDeadlineSeconds));
    const char msg[] = "t2: MPI_Finalize did not return within 60 s (a peer rank is gone or hung): exiting\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    std::_Exit(3);
  }).detach();
  MPI_Finalize();
}
}  // namespace

int mpi_init(int* argc, char*** argv) {
  int init = 0;
  MPI_Initialized(&init);
  if (init) {
    if (g_thread_level < 0) MPI_Query_thread(&g_thread_level);
    return g_thread_level;
  }
  int provided = 0;
  const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  if (rc != MPI_SUCCESS) detail::mpi_call_failed(__FILE__, __LINE__, "MPI_Init_thread", rc);
  // Anything below FUNNELED cannot be used safely from a program that has other threads at all.
  T2_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI provides thread level {}, t2 needs at least FUNNELED ({})",
           provided, MPI_THREAD_FUNNELED);
  g_thread_level = provided;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::atexit(finalize_at_exit);
  return provided;
}

bool mpi_is_initialized() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

int mpi_thread_level() { return g_thread_level; }

void mpi_abort(int code, const std::string& why) {
  fmt::print(stderr, "t2: aborting the MPI job (exit {}): {}\n", code, why);
  std::fflush(stderr);
  if (mpi_is_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int mpi_world_rank() {
  if (!mpi_is_initialized()) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int mpi_world_size() {
  if (!mpi_is_initialized()) return 1;
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(buf, static_cast<size_t>(len));
}

void PollBackoff::pause() {
  const auto waited = Clock::now() - start_;
  if (waited < std::chrono::microseconds(200)) return;
  if (waited < std::chrono::milliseconds(20)) {
    sched_yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(waited < std::chrono::milliseconds(100) ? 50 : 500));
  }
}

bool mpi_wait_until(MPI_Request& req, const Deadline& deadline, MPI_Status* status) {
  MPI_Status local;
  MPI_Status* st = status ? status : &local;
  int done = 0;
  PollBackoff backoff;
  for (;;) {
    T2_MPI_CHECK(MPI_Test(&req, &done, st));
    if (done) return true;
    if (deadline.expired()) return false;
    backoff.pause();
  }
}

namespace detail {
void mpi_call_failed(const char* file, int line, const char* expr, int code) {
  throw Error(fmt::format("{} failed: {} (MPI error {}) at {}:{}", expr, mpi_error_string(code), code, file, line));
}
}  // namespace detail

}  // namespace t2
