// The MPI backend of Communicator: host buffers, every operation a non-blocking MPI call
// (MPI_Iallreduce, MPI_Iallgather, MPI_Ibcast, MPI_Isend/MPI_Irecv, MPI_Ibarrier) completed by
// polling MPI_Test until the deadline. Messages above `max_chunk_elements` (INT32_MAX by default,
// MPI's count limit) are split into chunks. f16/bf16 reductions use t2's own MPI operations
// (accumulated in fp32 per pair, rounded back to nearest even).
//
// After a timeout in a collective the communicator is broken (a pending MPI collective cannot be
// cancelled, and a later one would be matched against it): every later call throws, and the buffer
// of the abandoned operation may still be written by MPI until the peers join, so the caller must
// keep it alive or end the process. A timed-out recv is cancelled and leaves the communicator usable.
#pragma once

#include <mpi.h>

#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "cluster/communicator.h"

namespace t2 {

struct MpiCommunicatorOptions {
  std::string name = "world";            // the group's name in error messages
  size_t max_chunk_elements = INT32_MAX; // lower it only to test the chunking path
  Seconds setup_timeout{120};            // deadline for creating a sub-group (all members must arrive)
  // Replaces the deadline of calls that leave CollectiveOptions at its default (timeouts::collective):
  // the campaign's timeouts.collective.
  Seconds default_timeout = timeouts::collective;
};

// MPI_COMM_WORLD (duplicated, so t2's traffic never matches anyone else's). Calls mpi_init().
std::unique_ptr<Communicator> make_mpi_communicator(const MpiCommunicatorOptions& opt = {});

// A duplicate of any MPI communicator (the caller keeps ownership of `comm`).
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, const MpiCommunicatorOptions& opt);

// Collective over `parent` (an MPI communicator): ranks with the same color form one group, ordered
// by key (then by parent rank). Every rank of the parent must call it; color < 0 means "no group"
// and returns nullptr. All ranks must arrive before opt.setup_timeout (checked with an MPI_Ibarrier).
std::unique_ptr<Communicator> make_mpi_communicator_split(MPI_Comm parent, int color, int key,
                                                          const MpiCommunicatorOptions& opt = {});

// Called only by the members: the group of the listed ranks of `parent` (rank i of the new group is
// ranks[i]). The members handshake point-to-point within opt.setup_timeout before creating it.
std::unique_ptr<Communicator> make_mpi_communicator_ranks(MPI_Comm parent, const std::vector<int>& ranks,
                                                          const MpiCommunicatorOptions& opt = {});

// The MPI communicator under an "mpi" Communicator (for code that needs raw MPI on the same group);
// MPI_COMM_NULL for other backends.
MPI_Comm mpi_comm_of(const Communicator& c);

}  // namespace t2
