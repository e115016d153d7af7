// The run directory must be on a file system that every rank sees (rank 0 writes it; workers read the
// SVD factors and experts in it). check_shared_directory: rank 0 writes DIR/.t2-shared-check with a
// fresh token and broadcasts the token; every rank reads the file back; if any rank does not find the
// token, every rank throws UsageError (exit 2) naming the ranks and hosts that could not see it.
// Collective over MPI_COMM_WORLD, bounded by `timeout` (a TimeoutError when a rank never arrives).
#pragma once

#include <string>

#include "core/deadline.h"

namespace t2 {

void check_shared_directory(const std::string& dir, Seconds timeout);

}  // namespace t2
