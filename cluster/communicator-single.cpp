#include <cstring>

#include "cluster/communicator.h"
#include "core/check.h"

namespace t2 {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::f64: case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

namespace {

class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void all_reduce(BufferView, ReduceOp, const CollectiveOptions&) override {}
  void all_gather(BufferView send, BufferView recv, const CollectiveOptions&) override {
    T2_CHECK(recv.count == send.count && recv.dtype == send.dtype, "all_gather: recv must hold size()*send.count");
    T2_CHECK(send.device < 0 && recv.device < 0, "single communicator: host buffers only");
    if (recv.data != send.data) std::memcpy(recv.data, send.data, send.bytes());
  }
  void broadcast(BufferView, int root, const CollectiveOptions&) override {
    T2_CHECK(root == 0, "broadcast root {} in a group of size 1", root);
  }
  void send(BufferView, int peer, int, const CollectiveOptions&) override {
    T2_FAIL("send to rank {} in a group of size 1", peer);
  }
  void recv(BufferView, int peer, int, const CollectiveOptions&) override {
    T2_FAIL("recv from rank {} in a group of size 1", peer);
  }
  void barrier(const CollectiveOptions&) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

}  // namespace t2
