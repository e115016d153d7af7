// The expectations every Communicator backend must meet (the contract in cluster/communicator.h),
// run against the single backend, the MPI backend (world, split and rank-list groups, chunked
// messages) and, on a GPU machine, NCCL. Each check computes the expected result from what every
// rank is known to hold, independently of the backend.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cluster/communicator.h"
#include "core/error.h"

namespace t2::test {

// Copies host data to and from the memory a backend works on (host for single/mpi, CUDA for nccl).
struct BufferPlace {
  std::function<BufferView(size_t count, DType t)> alloc;
  std::function<void(BufferView dst, const std::vector<char>& host)> upload;
  std::function<std::vector<char>(BufferView src)> download;
  std::function<void(BufferView)> release;
};
BufferPlace host_place();

const std::vector<DType>& all_dtypes();

// The value rank `rank` holds at element `i` in the tests: small integers, exact in every dtype.
double test_value(int rank, size_t i, int salt = 0);

void expect_all_reduce(Communicator& c, const BufferPlace& place);
void expect_all_gather(Communicator& c, const BufferPlace& place);
void expect_broadcast(Communicator& c, const BufferPlace& place);
void expect_send_recv_ring(Communicator& c, const BufferPlace& place);
void expect_barrier(Communicator& c);

// All of the above.
void expect_contract(Communicator& c, const BufferPlace& place);

}  // namespace t2::test
