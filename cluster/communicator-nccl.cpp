#include "cluster/communicator-nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/check.h"

namespace t2 {

namespace {

#define T2_CUDA_CHECK(call)                                                                        \
  do {                                                                                             \
    const cudaError_t t2_cuda_rc_ = (call);                                                        \
    T2_CHECK(t2_cuda_rc_ == cudaSuccess, "{}: {}", #call, cudaGetErrorString(t2_cuda_rc_));       \
  } while (0)

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::u8: return ncclUint8;
  }
  T2_FAIL("unknown dtype {}", static_cast<int>(t));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  T2_FAIL("unknown reduce op {}", static_cast<int>(op));
}

void pause_briefly(Clock::time_point since) {
  if (Clock::now() - since < std::chrono::microseconds(200)) return;
  std::this_thread::sleep_for(std::chrono::microseconds(50));
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device, const NcclCommunicatorOptions& opt)
      : rank_(bootstrap.rank()), size_(bootstrap.size()), device_(device) {
    int ndev = 0;
    T2_CUDA_CHECK(cudaGetDeviceCount(&ndev));
    T2_CHECK(device >= 0 && device < ndev, "nccl communicator on rank {}: CUDA device {} does not exist ({} visible)",
             rank_, device, ndev);
    T2_CUDA_CHECK(cudaSetDevice(device_));
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (rank_ == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    CollectiveOptions bo;
    bo.timeout = opt.setup_timeout;
    bootstrap.broadcast(BufferView{&id, sizeof id, DType::u8, -1}, 0, bo);

    const Deadline deadline = Deadline::after(opt.setup_timeout);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // non-blocking: init and every op can be polled and aborted
    ncclResult_t rc = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
    if (rc != ncclInProgress) nccl_check(rc, "ncclCommInitRankConfig");
    wait_async(deadline, "ncclCommInitRankConfig", opt.setup_timeout);
    T2_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    T2_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    T2_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    T2_CUDA_CHECK(cudaMalloc(&scratch_, sizeof(float)));
  }

  ~NcclCommunicator() override {
    if (comm_) {
      // Finalize flushes outstanding work; bounded, since a peer may be gone: abort after 10 s.
      ncclResult_t st = ncclCommFinalize(comm_);
      const Deadline d = Deadline::after(Seconds(10));
      while ((st == ncclSuccess || st == ncclInProgress) && ncclCommGetAsyncError(comm_, &st) == ncclSuccess &&
             st == ncclInProgress && !d.expired())
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (st == ncclSuccess) {
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
    if (scratch_) cudaFree(scratch_);
    if (ready_) cudaEventDestroy(ready_);
    if (done_) cudaEventDestroy(done_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void all_reduce(BufferView buf, ReduceOp op, const CollectiveOptions& opt) override {
    const std::string what = fmt::format("all_reduce({} x {})", buf.count, dtype_name(buf.dtype));
    prepare(what, buf);
    run(what, buf, opt, [&] {
      return ncclAllReduce(buf.data, buf.data, buf.count, nccl_type(buf.dtype), nccl_op(op), comm_, stream_);
    });
  }

  void all_gather(BufferView send, BufferView recv, const CollectiveOptions& opt) override {
    const std::string what = fmt::format("all_gather({} x {})", send.count, dtype_name(send.dtype));
    prepare(what, send);
    prepare(what, recv);
    T2_CHECK(recv.dtype == send.dtype && recv.count == send.count * static_cast<size_t>(size_),
             "{} on {}: recv must hold size() * send.count = {} elements of {}", what, where(),
             send.count * static_cast<size_t>(size_), dtype_name(send.dtype));
    run(what, send, opt, [&] {
      return ncclAllGather(send.data, recv.data, send.count, nccl_type(send.dtype), comm_, stream_);
    });
  }

  void broadcast(BufferView buf, int root, const CollectiveOptions& opt) override {
    const std::string what = fmt::format("broadcast({} x {}, root {})", buf.count, dtype_name(buf.dtype), root);
    prepare(what, buf);
    T2_CHECK(root >= 0 && root < size_, "{} on {}: root out of range", what, where());
    run(what, buf, opt, [&] {
      return ncclBroadcast(buf.data, buf.data, buf.count, nccl_type(buf.dtype), root, comm_, stream_);
    });
  }

  void send(BufferView buf, int peer, int tag, const CollectiveOptions& opt) override {
    const std::string what = fmt::format("send({} x {}) to peer {}", buf.count, dtype_name(buf.dtype), peer);
    prepare(what, buf);
    T2_CHECK(peer >= 0 && peer < size_ && peer != rank_ && tag >= 0, "{} on {}: bad peer or tag {}", what, where(), tag);
    run(what, buf, opt, [&] { return ncclSend(buf.data, buf.count, nccl_type(buf.dtype), peer, comm_, stream_); });
  }

  void recv(BufferView buf, int peer, int tag, const CollectiveOptions& opt) override {
    const std::string what = fmt::format("recv({} x {}) from peer {}", buf.count, dtype_name(buf.dtype), peer);
    prepare(what, buf);
    T2_CHECK(peer >= 0 && peer < size_ && peer != rank_ && tag >= 0, "{} on {}: bad peer or tag {}", what, where(), tag);
    run(what, buf, opt, [&] { return ncclRecv(buf.data, buf.count, nccl_type(buf.dtype), peer, comm_, stream_); });
  }

  void barrier(const CollectiveOptions& opt) override {
    prepare("barrier", BufferView{scratch_, 1, DType::f32, device_});
    run("barrier", BufferView{scratch_, 1, DType::f32, device_}, opt, [&] {
      return ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, comm_, stream_);
    });
  }

 private:
  std::string where() const {
    return fmt::format("rank {} of nccl group (size {}, CUDA device {})", rank_, size_, device_);
  }

  void nccl_check(ncclResult_t rc, const char* call) {
    if (rc == ncclSuccess) return;
    T2_FAIL("{} on {}: {} ({})", call, where(), ncclGetErrorString(rc), ncclGetLastError(comm_));
  }

  void prepare(const std::string& what, const BufferView& b) {
    T2_CHECK(!broken_, "{} on {}: the communicator was aborted after {}", what, where(), broken_reason_);
    T2_CHECK(b.count == 0 || b.device == device_, "{} on {}: buffer is on device {}, the communicator on {}", what,
             where(), b.device, device_);
    T2_CUDA_CHECK(cudaSetDevice(device_));
  }

  // Polls the communicator's asynchronous state until it leaves ncclInProgress.
  void wait_async(const Deadline& deadline, const std::string& what, Seconds timeout) {
    const auto start = Clock::now();
    for (;;) {
      ncclResult_t st = ncclSuccess;
      nccl_check(ncclCommGetAsyncError(comm_, &st), "ncclCommGetAsyncError");
      if (st == ncclSuccess) return;
      if (st != ncclInProgress) abort_with(what, fmt::format("asynchronous NCCL error: {}", ncclGetErrorString(st)), false);
      if (deadline.expired())
        abort_with(what, fmt::format("deadline of {:.3g} s passed", timeout.count()), true);
      pause_briefly(start);
    }
  }

  // Issues one NCCL operation on the communicator's stream, ordered against `order.stream` (the
  // stream of the kernels that produce and consume the buffer, torch's current stream):
  //   1. NCCL's stream waits for an event recorded on the caller's stream: the collective reads
  //      the buffer only after the kernels queued before the call have written it;
  //   2. once the operation is enqueued (a non-blocking communicator may still be enqueueing when
  //      the call returns: wait_async), an event recorded on NCCL's stream is waited for by the
  //      caller's stream: no kernel queued after the call reads the buffer before NCCL wrote it;
  //   3. the host polls that event until the deadline (a hung peer is aborted, not waited for).
  // Step 3 makes the call synchronous, so the caching allocator cannot reuse the buffer while NCCL
  // uses it; step 2 keeps the stream order right on its own.
  template <typename Issue>
  void run(const std::string& what, const BufferView& order, const CollectiveOptions& opt, Issue issue) {
    cudaStream_t caller = static_cast<cudaStream_t>(order.stream);  // nullptr: the legacy default stream
    T2_CUDA_CHECK(cudaEventRecord(ready_, caller));
    T2_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
    const Deadline deadline = Deadline::after(opt.timeout);
    const ncclResult_t rc = issue();
    if (rc != ncclInProgress) nccl_check(rc, what.c_str());
    wait_async(deadline, what, opt.timeout);
    T2_CUDA_CHECK(cudaEventRecord(done_, stream_));
    T2_CUDA_CHECK(cudaStreamWaitEvent(caller, done_, 0));
    const auto start = Clock::now();
    for (;;) {
      const cudaError_t q = cudaEventQuery(done_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) abort_with(what, fmt::format("CUDA error {}", cudaGetErrorString(q)), false);
      ncclResult_t st = ncclSuccess;
      ncclCommGetAsyncError(comm_, &st);
      if (st != ncclSuccess && st != ncclInProgress)
        abort_with(what, fmt::format("asynchronous NCCL error: {}", ncclGetErrorString(st)), false);
      if (deadline.expired()) abort_with(what, fmt::format("deadline of {:.3g} s passed", opt.timeout.count()), true);
      pause_briefly(start);
    }
  }

  [[noreturn]] void abort_with(const std::string& what, const std::string& why, bool timeout) {
    broken_ = true;
    broken_reason_ = what + ": " + why;
    ncclCommAbort(comm_);
    comm_ = nullptr;
    const std::string msg = fmt::format("{} on {}: {}; the NCCL communicator was aborted", what, where(), why);
    if (timeout) throw TimeoutError(msg);
    throw Error(msg);
  }

  int rank_, size_, device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr, done_ = nullptr;  // caller's stream -> NCCL's stream -> caller's stream
  void* scratch_ = nullptr;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device,
                                                     const NcclCommunicatorOptions& opt) {
  return std::make_unique<NcclCommunicator>(bootstrap, device, opt);
}

}  // namespace t2
