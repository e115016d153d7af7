#include "experts/svf-linear.h"

#include "core/check.h"
#include "experts/shape.h"

namespace t2 {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

torch::Tensor rows_of(const torch::Tensor& per_seq, const torch::Tensor& row_of) {
  if (per_seq.dim() == 1) return per_seq;
  T2_CHECK(row_of.defined() && row_of.numel() > 0, "a per-sequence scale [B, k] needs row_of");
  return per_seq.index_select(0, row_of);
}

// Inputs: x, z (the differentiable ones), then the frozen factors and row_of.
struct SvfLinearFn : public torch::autograd::Function<SvfLinearFn> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor z, torch::Tensor U,
                               torch::Tensor S, torch::Tensor V, torch::Tensor row_of) {
    auto dt = U.scalar_type();
    auto s = svf_scale(S, torch::sigmoid(z.to(dt)));
    auto h = torch::matmul(x.to(dt), V);                 // Vᵀx per row: [N, k]
    auto y = torch::matmul(h * rows_of(s, row_of), U.t());
    ctx->save_for_backward({z, U, S, V, row_of, h, s});
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    return y.to(x.scalar_type());
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    auto z = saved[0], U = saved[1], S = saved[2], V = saved[3], row_of = saved[4], h = saved[5], s = saved[6];
    auto x_dtype = static_cast<torch::ScalarType>(ctx->saved_data["x_dtype"].toInt());
    auto gy = grads[0].to(U.scalar_type());
    auto gh = torch::matmul(gy, U);                      // Uᵀ gy per row: [N, k]
    torch::Tensor gx;
    if (ctx->needs_input_grad(0)) gx = torch::matmul(gh * rows_of(s, row_of), V.t()).to(x_dtype);
    torch::Tensor gz;
    if (ctx->needs_input_grad(1)) {
      auto prod = gh * h;                                // per-row contribution to diag(Uᵀ G V)
      torch::Tensor g = z.dim() == 1 ? prod.sum(0)
                                     : torch::zeros({z.size(0), z.size(1)}, prod.options()).index_add_(0, row_of, prod);
      gz = svf_z_grad(S, z.to(U.scalar_type()), g).to(z.scalar_type());
    }
    return {gx, gz, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

SvfFactors svf_shard(const SvfFactors& full, const LinearInfo& info) {
  SvfFactors f = full;
  T2_CHECK(full.U.size(0) == info.out_features && full.V.size(0) == info.in_features,
           "factors of '{}' are [{}, k]·[{}, k] but the layer is {}x{}", info.name, full.U.size(0),
           full.V.size(0), info.out_features, info.in_features);
  if (info.out_local != info.out_features) f.U = full.U.narrow(0, info.out_offset, info.out_local).contiguous();
  if (info.in_local != info.in_features) f.V = full.V.narrow(0, info.in_offset, info.in_local).contiguous();
  return f;
}

torch::Tensor svf_factored_forward(const SvfFactors& f, const torch::Tensor& x, const torch::Tensor& scale,
                                   const torch::Tensor& row_of) {
  auto dt = f.U.scalar_type();
  auto h = torch::matmul(x.to(dt), f.V);
  return torch::matmul(h * rows_of(scale.to(dt), row_of), f.U.t()).to(x.scalar_type());
}

torch::Tensor svf_linear_z(const SvfFactors& f, const torch::Tensor& x, const torch::Tensor& z,
                           const torch::Tensor& row_of) {
  T2_CHECK(z.size(-1) == f.rank(), "z has {} entries, the factors have rank {}", z.size(-1), f.rank());
  auto r = row_of.defined() ? row_of : torch::empty({0}, torch::kLong);
  return SvfLinearFn::apply(x, z, f.U, f.S, f.V, r);
}

void SvfLinearAdapter::set_z(torch::Tensor z) {
  T2_CHECK(z.size(-1) == f_.rank(), "z has {} entries, the factors have rank {}", z.size(-1), f_.rank());
  z_ = std::move(z);
  scale_ = torch::Tensor();
}

void SvfLinearAdapter::set_multipliers(torch::Tensor m) {
  T2_CHECK(m.size(-1) == f_.rank(), "multipliers have {} entries, the factors have rank {}", m.size(-1), f_.rank());
  scale_ = svf_scale(f_.S, m.to(f_.S.scalar_type()).to(f_.S.device()));
  z_ = torch::Tensor();
}

torch::Tensor SvfLinearAdapter::forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) {
  if (z_.defined()) return svf_linear_z(f_, x, z_, row_of);
  T2_CHECK(scale_.defined(), "SVF adapter used before set_z or set_multipliers");
  return svf_factored_forward(f_, x, scale_, row_of);
}

}  // namespace t2
