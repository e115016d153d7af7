// Communicator: the collectives of one tensor-parallel group (DESIGN.md decision 4: MPI is the control
// plane, NCCL the data plane). Backends: "single" (size 1, always), "mpi" (host buffers, always built),
// "nccl" (CUDA buffers, built when NCCL is found). Tensors cross this interface as raw buffers, so the
// header stays free of torch; workers/ wraps tensors into BufferViews.
//
// Semantics shared by every backend (tests/cluster run the same expectations against each):
//   all_reduce(buf, op)        in place; every rank ends with op over all ranks' buffers
//   all_gather(send, recv)     recv.count == size() * send.count, rank-major (rank r's data at r*count)
//   broadcast(buf, root)       in place; every rank ends with root's buffer
//   send/recv(buf, peer, tag)  point to point, matching tag; peer != rank() (no self-messages)
//   barrier()
// Every call takes a deadline (CollectiveOptions::timeout); when it passes the call throws
// t2::TimeoutError naming the operation, the rank and the group, instead of hanging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/deadline.h"

namespace t2 {

enum class DType : uint8_t { f32, f16, bf16, f64, i32, i64, u8 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

enum class ReduceOp : uint8_t { sum, max, min };

// A contiguous buffer of `count` elements in host memory (device < 0) or on CUDA device `device`.
// `stream` (a cudaStream_t, for CUDA buffers) is the stream whose kernels write the buffer before the
// call and read it after: the NCCL backend orders its work after everything queued there and makes
// that stream wait for the collective (nullptr: the legacy default stream).
struct BufferView {
  void* data = nullptr;
  size_t count = 0;
  DType dtype = DType::f32;
  int device = -1;
  void* stream = nullptr;
  size_t bytes() const { return count * dtype_size(dtype); }
};

struct CollectiveOptions {
  Seconds timeout = timeouts::collective;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single", "mpi", "nccl"

  virtual void all_reduce(BufferView buf, ReduceOp op, const CollectiveOptions& opt = {}) = 0;
  virtual void all_gather(BufferView send, BufferView recv, const CollectiveOptions& opt = {}) = 0;
  virtual void broadcast(BufferView buf, int root, const CollectiveOptions& opt = {}) = 0;
  virtual void send(BufferView buf, int peer, int tag, const CollectiveOptions& opt = {}) = 0;
  virtual void recv(BufferView buf, int peer, int tag, const CollectiveOptions& opt = {}) = 0;
  virtual void barrier(const CollectiveOptions& opt = {}) = 0;
};

// Size-1 group: collectives are identities (all_gather copies), send/recv throw.
std::unique_ptr<Communicator> make_single_communicator();

}  // namespace t2
