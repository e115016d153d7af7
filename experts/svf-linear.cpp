#include "experts/svf-linear.h"

#include <vector>

#include "core/check.h"
#include "experts/shape.h"

namespace t2 {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// The row layout of a batch: in a padded batch (scoring, prefill, a CEM population) sequence b owns
// R consecutive rows, so rows group into blocks of R with one sequence each. Then a per-sequence
// [B, k] scale applies through a [N/R, R, k] view with [N/R, 1, k] scales: no [N, k] gather of the
// scales (a fresh N·k buffer per layer, whose page faults cost more than the multiply on CPU).
struct RowBlocks {
  int64_t R = 0;              // rows per block; 0: no block structure found (or not on CPU)
  torch::Tensor seq;          // [N/R] the sequence of each block
  bool identity = false;      // seq is 0, 1, ..., N/R - 1 (a decode step of a whole population)
};

RowBlocks row_blocks(const torch::Tensor& row_of, int64_t N) {
  RowBlocks b;
  if (!row_of.defined() || row_of.numel() != N || N == 0 || !row_of.device().is_cpu() ||
      row_of.scalar_type() != torch::kLong)
    return b;
  auto r = row_of.contiguous();
  const int64_t* p = r.data_ptr<int64_t>();
  int64_t R = 1;
  while (R < N && p[R] == p[0]) ++R;
  if (N % R != 0) return b;
  std::vector<int64_t> seq;
  seq.reserve(static_cast<size_t>(N / R));
  bool identity = true;
  for (int64_t i = 0; i < N; i += R) {
    for (int64_t j = 1; j < R; ++j)
      if (p[i + j] != p[i]) return b;
    identity = identity && p[i] == i / R;
    seq.push_back(p[i]);
  }
  b.R = R;
  b.identity = identity;
  b.seq = torch::tensor(seq, torch::kLong);  // host: moved to the activations' device where it is used
  return b;
}

// h [N, k] times its rows' scales (scale [k] or [B, k]); in place when `inplace` (h is then a
// temporary nobody else holds), else a new tensor (autograd-safe).
torch::Tensor scale_rows(const torch::Tensor& h, const torch::Tensor& scale, const torch::Tensor& row_of,
                         const RowBlocks& blocks, bool inplace) {
  if (scale.dim() == 1) return inplace ? h.mul_(scale) : h * scale;
  T2_CHECK(row_of.defined() && row_of.numel() == h.size(0), "a per-sequence scale [B, k] needs row_of for every row");
  if (blocks.R > 0 && h.is_contiguous()) {
    const int64_t N = h.size(0), k = h.size(1), R = blocks.R;
    // block i belongs to sequence i (every sequence of the batch still running): the scales as they are
    auto s = (blocks.identity && scale.size(0) == N / R ? scale : scale.index_select(0, blocks.seq.to(scale.device())))
                 .unsqueeze(1);  // [N/R, 1, k]
    auto hv = h.view({N / R, R, k});
    return inplace ? hv.mul_(s).view({N, k}) : (hv * s).view({N, k});
  }
  auto s = scale.index_select(0, row_of);
  return inplace ? h.mul_(s) : h * s;
}

// Σ over each sequence's rows of prod [N, k] -> [B, k].
torch::Tensor sum_rows_by_seq(const torch::Tensor& prod, const torch::Tensor& row_of, const RowBlocks& blocks,
                              int64_t B) {
  auto out = torch::zeros({B, prod.size(1)}, prod.options());
  if (blocks.R > 0 && prod.is_contiguous()) {
    const int64_t N = prod.size(0), k = prod.size(1), R = blocks.R;
    auto per_block = R == 1 ? prod : prod.view({N / R, R, k}).sum(1);
    return out.index_add_(0, blocks.seq.to(prod.device()), per_block);
  }
  return out.index_add_(0, row_of, prod);
}

// Inputs: x, z (the differentiable ones), then the frozen factors and row_of.
struct SvfLinearFn : public torch::autograd::Function<SvfLinearFn> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor z, torch::Tensor U,
                               torch::Tensor S, torch::Tensor V, torch::Tensor row_of) {
    auto dt = U.scalar_type();
    // The scale in at least fp32 (σ and z are), rounded once to the factors' dtype for the GEMMs.
    auto acc = accumulation_dtype(dt);
    auto s = svf_scale(S.to(acc), torch::sigmoid(z.to(acc))).to(dt);
    auto h = torch::matmul(x.to(dt), V);                 // Vᵀx per row: [N, k]
    auto y = torch::matmul(scale_rows(h, s, row_of, row_blocks(row_of, h.size(0)), /*inplace=*/false), U.t());
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
    const RowBlocks blocks = row_blocks(row_of, gh.size(0));
    torch::Tensor gz;
    if (ctx->needs_input_grad(1)) {
      // Per-row contributions to diag(Uᵀ G V), summed over rows in at least fp32 (16-bit factors).
      const auto acc = accumulation_dtype(U.scalar_type());
      auto prod = acc == U.scalar_type() ? gh * h : gh.to(acc) * h.to(acc);
      torch::Tensor g = z.dim() == 1 ? prod.sum(0) : sum_rows_by_seq(prod, row_of, blocks, z.size(0));
      gz = svf_z_grad(S.to(acc), z.to(acc), g).to(z.scalar_type());
    }
    torch::Tensor gx;
    if (ctx->needs_input_grad(0))  // gh is ours: scaled in place
      gx = torch::matmul(scale_rows(gh, s, row_of, blocks, /*inplace=*/true), V.t()).to(x_dtype);
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
  auto sc = scale.to(dt);
  auto h = torch::matmul(x.to(dt), f.V);
  // h is a temporary: scaled in place unless autograd needs it (a differentiable scale or input).
  const bool inplace = !torch::GradMode::is_enabled() || !(sc.requires_grad() || x.requires_grad());
  return torch::matmul(scale_rows(h, sc, row_of, row_blocks(row_of, h.size(0)), inplace), f.U.t()).to(x.scalar_type());
}

torch::Tensor svf_linear_z(const SvfFactors& f, const torch::Tensor& x, const torch::Tensor& z,
                           const torch::Tensor& row_of) {
  T2_CHECK(z.size(-1) == f.rank(), "z has {} entries, the factors have rank {}", z.size(-1), f.rank());
  // host: an empty row_of only says "one scale for every row"; it never meets a device tensor
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
  const auto acc = accumulation_dtype(f_.U.scalar_type());
  scale_ = svf_scale(f_.S.to(acc), m.to(acc).to(f_.S.device())).to(f_.U.scalar_type());
  z_ = torch::Tensor();
}

torch::Tensor SvfLinearAdapter::forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) {
  if (z_.defined()) return svf_linear_z(f_, x, z_, row_of);
  T2_CHECK(scale_.defined(), "SVF adapter used before set_z or set_multipliers");
  return svf_factored_forward(f_, x, scale_, row_of);
}

}  // namespace t2
