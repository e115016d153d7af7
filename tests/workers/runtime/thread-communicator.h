// A Communicator whose ranks are threads of one process (shared memory, host buffers), so that
// tensor-parallel runtime tests run TP=2 without mpirun. Same semantics and deadlines as the real
// backends (cluster/communicator.h); sum/max/min over f32, f64, i32, i64.
#pragma once

#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/communicator.h"
#include "core/check.h"

namespace t2::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), slots_(static_cast<size_t>(size)) {}
  int size() const { return size_; }

  // Every rank publishes a buffer, then all see all of them; returns after everyone has finished
  // using them (two barriers).
  template <typename F>
  void exchange(int rank, BufferView mine, const CollectiveOptions& opt, const char* what, F&& use) {
    Deadline dl = Deadline::after(opt.timeout);
    slots_[static_cast<size_t>(rank)] = mine;
    barrier(dl, what);
    use(slots_);
    barrier(dl, what);
  }

  void barrier(const Deadline& dl, const char* what) {
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t gen = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    if (!cv_.wait_until(lk, dl.when(), [&] { return generation_ != gen; }))
      throw TimeoutError(std::string("thread communicator: ") + what + " timed out");
  }

 private:
  int size_;
  std::vector<BufferView> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<ThreadGroup> g, int rank) : g_(std::move(g)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_->size(); }
  std::string backend() const override { return "threads"; }

  void all_reduce(BufferView buf, ReduceOp op, const CollectiveOptions& opt) override {
    std::vector<char> acc(buf.bytes());
    g_->exchange(rank_, buf, opt, "all_reduce", [&](const std::vector<BufferView>& all) {
      // every rank reduces in rank order, so all ranks get identical bits
      std::memcpy(acc.data(), all[0].data, buf.bytes());
      for (size_t r = 1; r < all.size(); ++r) reduce(acc.data(), all[r].data, buf, op);
    });
    std::memcpy(buf.data, acc.data(), buf.bytes());
  }
  void all_gather(BufferView send, BufferView recv, const CollectiveOptions& opt) override {
    T2_CHECK(recv.count == send.count * static_cast<size_t>(size()), "all_gather: recv must hold size()*send.count");
    g_->exchange(rank_, send, opt, "all_gather", [&](const std::vector<BufferView>& all) {
      for (size_t r = 0; r < all.size(); ++r)
        std::memcpy(static_cast<char*>(recv.data) + r * send.bytes(), all[r].data, send.bytes());
    });
  }
  void broadcast(BufferView buf, int root, const CollectiveOptions& opt) override {
    std::vector<char> tmp(buf.bytes());
    g_->exchange(rank_, buf, opt, "broadcast", [&](const std::vector<BufferView>& all) {
      std::memcpy(tmp.data(), all[static_cast<size_t>(root)].data, buf.bytes());
    });
    std::memcpy(buf.data, tmp.data(), buf.bytes());
  }
  void send(BufferView, int, int, const CollectiveOptions&) override { T2_FAIL("thread communicator: no send"); }
  void recv(BufferView, int, int, const CollectiveOptions&) override { T2_FAIL("thread communicator: no recv"); }
  void barrier(const CollectiveOptions& opt) override { g_->barrier(Deadline::after(opt.timeout), "barrier"); }

 private:
  template <typename T>
  static void reduce_as(void* acc, const void* in, size_t n, ReduceOp op) {
    T* a = static_cast<T*>(acc);
    const T* b = static_cast<const T*>(in);
    for (size_t i = 0; i < n; ++i)
      a[i] = op == ReduceOp::sum ? a[i] + b[i] : op == ReduceOp::max ? (a[i] > b[i] ? a[i] : b[i]) : (a[i] < b[i] ? a[i] : b[i]);
  }
  static void reduce(void* acc, const void* in, BufferView v, ReduceOp op) {
    switch (v.dtype) {
      case DType::f32: reduce_as<float>(acc, in, v.count, op); break;
      case DType::f64: reduce_as<double>(acc, in, v.count, op); break;
      case DType::i32: reduce_as<int32_t>(acc, in, v.count, op); break;
      case DType::i64: reduce_as<int64_t>(acc, in, v.count, op); break;
      default: T2_FAIL("thread communicator: all_reduce of {} not supported", dtype_name(v.dtype));
    }
  }
  std::shared_ptr<ThreadGroup> g_;
  int rank_;
};

// Runs `fn(rank, comm)` on `n` threads, each with its own rank of one thread group, joins them all, then
// rethrows the first rank's exception (in rank order). A rank that waits on a failed peer ends by its
// collective's deadline (TimeoutError), so the join cannot hang.
template <typename F>
void run_on_ranks(int n, F fn) {
  auto group = std::make_shared<ThreadGroup>(n);
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        ThreadCommunicator comm(group, r);
        fn(r, comm);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace t2::test
