// MPI process setup: initialise once (MPI_THREAD_MULTIPLE when the library offers it, else
// FUNNELED: only the thread that called mpi_init may call MPI), finalise at exit (bounded), abort,
// world rank/size,
// and T2_MPI_CHECK, which turns an MPI error code into a t2::Error carrying MPI's own message.
// MPI_COMM_WORLD is switched to MPI_ERRORS_RETURN so that errors reach T2_MPI_CHECK instead of
// aborting the job inside the library.
#pragma once

#include <mpi.h>

#include <string>

#include "core/deadline.h"

namespace t2 {

// Idempotent. argc/argv may be null. Registers MPI_Finalize with atexit (unless MPI was initialised
// by someone else before, in which case that owner finalises). Returns the thread level obtained.
int mpi_init(int* argc = nullptr, char*** argv = nullptr);
bool mpi_is_initialized();
int mpi_thread_level();          // MPI_THREAD_* obtained, or -1 before mpi_init
int mpi_world_rank();            // 0 when MPI is not initialised
int mpi_world_size();            // 1 when MPI is not initialised
std::string mpi_error_string(int code);

// Ends every rank of the job now (MPI_Abort on MPI_COMM_WORLD, or _Exit without MPI) after one line
// on stderr: for a rank 0 that lost a worker rank, whose MPI_Finalize could otherwise never return.
// (MPI_Finalize at exit is bounded too: a watchdog ends a process stuck in it after 60 s.)
[[noreturn]] void mpi_abort(int code, const std::string& why);

// Pacing of a polling loop: spins for the first 200 us (latency of small control messages), then
// yields, then sleeps a little, so that ranks on an oversubscribed node (more ranks than cores)
// leave the CPU to the peer they wait for.
class PollBackoff {
 public:
  void pause();

 private:
  Clock::time_point start_ = Clock::now();
};

// Completes `req` by polling MPI_Test until `deadline`: backs off from spinning to short sleeps so
// that oversubscribed ranks (more ranks than cores) leave the CPU to the peer they wait for. Returns
// false when the deadline passed first (the request is still pending); throws on an MPI error.
bool mpi_wait_until(MPI_Request& req, const Deadline& deadline, MPI_Status* status = nullptr);

namespace detail {
[[noreturn]] void mpi_call_failed(const char* file, int line, const char* expr, int code);
}

}  // namespace t2

#define T2_MPI_CHECK(call)                                                              \
  do {                                                                                  \
    const int t2_mpi_rc_ = (call);                                                      \
    if (t2_mpi_rc_ != MPI_SUCCESS) ::t2::detail::mpi_call_failed(__FILE__, __LINE__, #call, t2_mpi_rc_); \
  } while (0)
