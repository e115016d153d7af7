#include "workers/tp-collectives.h"

#include "core/check.h"

#ifdef T2_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace t2 {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool trivial(Communicator* c) { return c == nullptr || c->size() == 1; }

torch::Tensor all_reduce_copy(const torch::Tensor& x, Communicator* comm) {
  torch::NoGradGuard ng;
  torch::Tensor y = x.contiguous().clone();
  comm->all_reduce(tp_buffer(y), ReduceOp::sum);
  return y;
}

torch::Tensor all_gather_last(const torch::Tensor& x, Communicator* comm) {
  torch::NoGradGuard ng;
  torch::Tensor s = x.contiguous();
  std::vector<int64_t> shape = {comm->size()};
  for (auto d : s.sizes()) shape.push_back(d);
  torch::Tensor r = torch::empty(shape, s.options());
  comm->all_gather(tp_buffer(s), tp_buffer(r));
  // [size, ..., local] -> [..., size * local], rank-major along the last dimension
  std::vector<int64_t> perm;
  for (int64_t i = 1; i < r.dim(); ++i) perm.push_back(i);
  perm.insert(perm.end() - 1, 0);
  std::vector<int64_t> out_shape(s.sizes().begin(), s.sizes().end());
  out_shape.back() *= comm->size();
  return r.permute(perm).reshape(out_shape);
}

struct ReduceFrom : public torch::autograd::Function<ReduceFrom> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, int64_t comm_ptr) {
    return all_reduce_copy(x, reinterpret_cast<Communicator*>(comm_ptr));
  }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0], torch::Tensor()}; }
};

struct CopyTo : public torch::autograd::Function<CopyTo> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, int64_t comm_ptr) {
    ctx->saved_data["comm"] = comm_ptr;
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    return {all_reduce_copy(g[0], comm), torch::Tensor()};
  }
};

struct GatherFrom : public torch::autograd::Function<GatherFrom> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, int64_t comm_ptr) {
    auto* comm = reinterpret_cast<Communicator*>(comm_ptr);
    ctx->saved_data["rank"] = static_cast<int64_t>(comm->rank());
    ctx->saved_data["local"] = x.size(-1);
    return all_gather_last(x, comm);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    int64_t rank = ctx->saved_data["rank"].toInt(), local = ctx->saved_data["local"].toInt();
    return {g[0].narrow(-1, rank * local, local).contiguous(), torch::Tensor()};
  }
};

}  // namespace

BufferView tp_buffer(const torch::Tensor& t) {
  T2_CHECK(t.is_contiguous(), "tensor-parallel collectives need contiguous tensors");
  BufferView b;
  b.data = t.data_ptr();
  b.count = static_cast<size_t>(t.numel());
  b.device = t.is_cuda() ? t.get_device() : -1;
#ifdef T2_WITH_CUDA
  // NCCL orders itself after the kernels of torch's current stream and before its next ones
  if (t.is_cuda()) b.stream = c10::cuda::getCurrentCUDAStream(t.get_device()).stream();
#endif
  switch (t.scalar_type()) {
    case torch::kFloat: b.dtype = DType::f32; break;
    case torch::kBFloat16: b.dtype = DType::bf16; break;
    case torch::kHalf: b.dtype = DType::f16; break;
    case torch::kDouble: b.dtype = DType::f64; break;
    case torch::kInt: b.dtype = DType::i32; break;
    case torch::kLong: b.dtype = DType::i64; break;
    case torch::kByte: b.dtype = DType::u8; break;
    default: T2_FAIL("tensor dtype {} cannot cross a Communicator", c10::toString(t.scalar_type()));
  }
  return b;
}

torch::Tensor tp_reduce_from(const torch::Tensor& x, Communicator* comm) {
  if (trivial(comm)) return x;
  if (!x.requires_grad()) return all_reduce_copy(x, comm);
  return ReduceFrom::apply(x, reinterpret_cast<int64_t>(comm));
}

torch::Tensor tp_copy_to(const torch::Tensor& x, Communicator* comm) {
  if (trivial(comm) || !x.requires_grad()) return x;
  return CopyTo::apply(x, reinterpret_cast<int64_t>(comm));
}

torch::Tensor tp_gather_from(const torch::Tensor& x, Communicator* comm) {
  if (trivial(comm)) return x;
  if (!x.requires_grad()) return all_gather_last(x, comm);
  return GatherFrom::apply(x, reinterpret_cast<int64_t>(comm));
}

}  // namespace t2
