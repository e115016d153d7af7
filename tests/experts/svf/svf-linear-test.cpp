// The SVF linear layer: closed-form backward inside a stack of layers against autograd through an
// explicit dense composition and against finite differences; base weights never get a grad; the
// per-sequence factored form against composing each W' separately; tensor-parallel shards.
#include <gtest/gtest.h>

#include "experts/svf-decompose.h"
#include "experts/svf-linear.h"

namespace t2 {
namespace {

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).norm().item<double>();
  return d / std::max(b.to(torch::kFloat64).norm().item<double>(), 1e-300);
}

// A tiny "model": three adapted linear layers (8 → 12 → 12 → 8) with a tanh between, applied to
// a batch of rows, loss = Σ y ⊙ R.
struct Stack {
  std::vector<torch::Tensor> W;
  std::vector<SvfFactors> F;
  torch::Tensor X, R;
  explicit Stack(torch::ScalarType dt) {
    torch::manual_seed(11);
    auto o = torch::TensorOptions().dtype(dt);
    W = {torch::randn({12, 8}, o) / 3, torch::randn({12, 12}, o) / 3, torch::randn({8, 12}, o) / 3};
    for (auto& w : W) F.push_back(svf_decompose(w, dt == torch::kFloat64));
    X = torch::randn({5, 8}, o);
    R = torch::randn({5, 8}, o);
  }
  torch::Tensor loss_adapter(const std::vector<torch::Tensor>& z) {
    auto h = X;
    for (size_t l = 0; l < W.size(); ++l) {
      SvfLinearAdapter a(F[l]);
      a.set_z(z[l]);
      h = a.forward(h, W[l], torch::Tensor());
      if (l + 1 < W.size()) h = torch::tanh(h);
    }
    return (h * R).sum();
  }
  torch::Tensor loss_dense(const std::vector<torch::Tensor>& z) {
    auto h = X;
    for (size_t l = 0; l < W.size(); ++l) {
      auto Wp = torch::matmul(F[l].U * svf_scale(F[l].S, torch::sigmoid(z[l])).unsqueeze(0), F[l].V.t());
      h = torch::matmul(h, Wp.t());
      if (l + 1 < W.size()) h = torch::tanh(h);
    }
    return (h * R).sum();
  }
  std::vector<torch::Tensor> init_z(torch::ScalarType dt) {
    std::vector<torch::Tensor> z;
    for (auto& f : F) z.push_back((0.1 + 0.5 * torch::randn({f.rank()}, torch::TensorOptions().dtype(dt))).requires_grad_(true));
    return z;
  }
};

TEST(SvfLinear, ClosedFormBackwardMatchesAutogradThroughExplicitComposition) {
  Stack s(torch::kFloat32);
  auto z = s.init_z(torch::kFloat32);
  auto ga = torch::autograd::grad({s.loss_adapter(z)}, z);
  auto gd = torch::autograd::grad({s.loss_dense(z)}, z);
  for (size_t l = 0; l < z.size(); ++l) EXPECT_LE(rel_err(ga[l], gd[l]), 1e-3) << "layer " << l;
  for (auto& w : s.W) {
    EXPECT_FALSE(w.requires_grad());
    EXPECT_FALSE(w.grad().defined());
  }
}

TEST(SvfLinear, ClosedFormBackwardMatchesFiniteDifferences) {
  Stack s(torch::kFloat64);
  auto z = s.init_z(torch::kFloat64);
  auto L = s.loss_adapter(z);
  L.backward();
  torch::NoGradGuard ng;
  const double h = 1e-6;
  for (size_t l = 0; l < z.size(); ++l) {
    auto fd = torch::zeros_like(z[l]);
    for (int64_t i = 0; i < z[l].size(0); ++i) {
      auto zp = z, zm = z;
      zp[l] = z[l].detach().clone();
      zm[l] = z[l].detach().clone();
      zp[l][i] += h;
      zm[l][i] -= h;
      fd[i] = (s.loss_adapter(zp) - s.loss_adapter(zm)) / (2 * h);
    }
    EXPECT_LE(rel_err(z[l].grad(), fd), 1e-3) << "layer " << l;
  }
  for (auto& w : s.W) EXPECT_FALSE(w.grad().defined());
}

TEST(SvfLinear, PerSequenceFactoredFormEqualsSeparateComposition) {
  torch::manual_seed(12);
  auto W = torch::randn({24, 16});
  auto f = svf_decompose(W);
  const int64_t B = 6, T = 3;
  auto x = torch::randn({B * T, 16});
  auto row_of = torch::arange(B).repeat_interleave(T);
  auto m = torch::sigmoid(torch::randn({B, f.rank()}));
  m[2].zero_();  // one all-zero candidate: falls back to the base weights
  SvfLinearAdapter a(f);
  a.set_multipliers(m);
  auto y = a.forward(x, W, row_of);
  for (int64_t b = 0; b < B; ++b) {
    auto Wp = svf_compose(f, m[b], torch::kFloat32);
    auto ref = torch::matmul(x.narrow(0, b * T, T), Wp.t());
    EXPECT_LE(rel_err(y.narrow(0, b * T, T), ref), 1e-4) << "sequence " << b;
  }
  EXPECT_FALSE(y.isnan().any().item<bool>());
}

TEST(SvfLinear, PerSequenceZGradientsEqualSeparateRuns) {
  torch::manual_seed(13);
  auto W = torch::randn({10, 7}, torch::kFloat64);
  auto f = svf_decompose(W, true);
  const int64_t B = 3, T = 4;
  auto x = torch::randn({B * T, 7}, torch::kFloat64), R = torch::randn({B * T, 10}, torch::kFloat64);
  auto row_of = torch::arange(B).repeat_interleave(T);
  auto z = torch::randn({B, f.rank()}, torch::kFloat64).requires_grad_(true);
  (svf_linear_z(f, x, z, row_of) * R).sum().backward();
  for (int64_t b = 0; b < B; ++b) {
    auto zb = z.detach()[b].clone().requires_grad_(true);
    (svf_linear_z(f, x.narrow(0, b * T, T), zb, torch::Tensor()) * R.narrow(0, b * T, T)).sum().backward();
    EXPECT_LE(rel_err(z.grad()[b], zb.grad()), 1e-10);
  }
}

// Two simulated TP ranks: column-parallel concatenates outputs, row-parallel sums them; in both the
// z-gradient is the sum of the ranks' partial gradients.
TEST(SvfLinear, TensorParallelShardsSumToTheFullLayer) {
  torch::manual_seed(14);
  auto W = torch::randn({12, 8}, torch::kFloat64);
  auto full = svf_decompose(W, true);
  auto x = torch::randn({5, 8}, torch::kFloat64), R = torch::randn({5, 12}, torch::kFloat64);
  auto z0 = torch::randn({full.rank()}, torch::kFloat64);
  auto zf = z0.clone().requires_grad_(true);
  auto y_full = svf_linear_z(full, x, zf, torch::Tensor());
  (y_full * R).sum().backward();
  for (auto kind : {LinearKind::column_parallel, LinearKind::row_parallel}) {
    torch::Tensor y_sum, gz_sum;
    std::vector<torch::Tensor> cols;
    for (int rank = 0; rank < 2; ++rank) {
      LinearInfo info{"l", kind, 12, 8, 12, 8, 0, 0, rank, 2};
      if (kind == LinearKind::column_parallel) info.out_local = 6, info.out_offset = 6 * rank;
      else info.in_local = 4, info.in_offset = 4 * rank;
      auto f = svf_shard(full, info);
      auto z = z0.clone().requires_grad_(true);
      auto xl = x.narrow(1, info.in_offset, info.in_local);
      auto y = svf_linear_z(f, xl, z, torch::Tensor());
      (y * R.narrow(1, info.out_offset, info.out_local)).sum().backward();
      gz_sum = gz_sum.defined() ? gz_sum + z.grad() : z.grad();
      if (kind == LinearKind::column_parallel) cols.push_back(y.detach());
      else y_sum = y_sum.defined() ? y_sum + y.detach() : y.detach();
    }
    auto y = kind == LinearKind::column_parallel ? torch::cat(cols, 1) : y_sum;
    EXPECT_LE(rel_err(y, y_full.detach()), 1e-12);
    EXPECT_LE(rel_err(gz_sum, zf.grad()), 1e-10);
  }
}

}  // namespace
}  // namespace t2
