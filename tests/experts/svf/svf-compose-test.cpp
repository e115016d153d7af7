// Composition against an element-by-element fp64 evaluation of METHOD.md §3.4, the uniform-m
// identity, the all-zero guard, and the closed-form z-gradient against autograd and finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "experts/svf-compose.h"
#include "experts/svf-decompose.h"

namespace t2 {
namespace {

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).norm().item<double>();
  return d / std::max(b.to(torch::kFloat64).norm().item<double>(), 1e-300);
}

TEST(SvfCompose, UniformMultipliersReproduceW) {
  torch::manual_seed(1);
  for (auto shape : {std::pair<int64_t, int64_t>{48, 32}, {32, 48}, {40, 40}}) {
    auto W = torch::randn({shape.first, shape.second});
    auto f = svf_decompose(W);
    for (double m : {1.0, 0.525, 0.1, 1e-3}) {
      auto Wp = svf_compose(f, torch::full({f.rank()}, m), torch::kFloat32);
      EXPECT_LE(rel_err(Wp, W), 1e-5) << "m=" << m << " shape " << shape.first << "x" << shape.second;
    }
  }
}

TEST(SvfCompose, MatchesElementwiseFormula) {
  torch::manual_seed(2);
  auto W = torch::randn({7, 5});
  auto f = svf_decompose(W, /*fp64=*/true);
  auto z = torch::randn({f.rank()}, torch::kFloat64);
  auto Wp = svf_compose(f, torch::sigmoid(z), torch::kFloat64);
  // Independent evaluation with scalar loops in double.
  auto U = f.U.accessor<double, 2>(), V = f.V.accessor<double, 2>();
  auto S = f.S.accessor<double, 1>(), zz = z.accessor<double, 1>();
  double sum_s = 0, sum_a = 0;
  std::vector<double> a(f.rank());
  for (int64_t i = 0; i < f.rank(); ++i) {
    a[i] = S[i] / (1 + std::exp(-zz[i]));
    sum_s += S[i];
    sum_a += a[i];
  }
  for (int64_t r = 0; r < 7; ++r)
    for (int64_t c = 0; c < 5; ++c) {
      double v = 0;
      for (int64_t i = 0; i < f.rank(); ++i) v += U[r][i] * a[i] * V[c][i];
      EXPECT_NEAR(Wp[r][c].item<double>(), v * sum_s / sum_a, 1e-12);
    }
}

TEST(SvfCompose, AllZeroMultipliersGiveBaseWeightsNotNaN) {
  torch::manual_seed(3);
  auto W = torch::randn({12, 9});
  auto f = svf_decompose(W);
  auto Wp = svf_compose(f, torch::zeros({f.rank()}), torch::kFloat32);
  EXPECT_FALSE(Wp.isnan().any().item<bool>());
  EXPECT_LE(rel_err(Wp, W), 1e-5);
  // Per-sequence scales: only the zero row falls back.
  auto m = torch::stack({torch::zeros({f.rank()}), torch::full({f.rank()}, 0.5)});
  auto s = svf_scale(f.S, m);
  EXPECT_TRUE(torch::allclose(s[0], f.S));
  EXPECT_TRUE(torch::allclose(s[1], f.S, 1e-5, 1e-6));
}

TEST(SvfCompose, RoundsOnceToServingDtype) {
  torch::manual_seed(4);
  auto W = torch::randn({64, 32});
  auto f = svf_decompose(W);
  auto m = torch::sigmoid(torch::randn({f.rank()}));
  auto exact = svf_compose(f, m, torch::kFloat32);
  auto bf = svf_compose(f, m, torch::kBFloat16);
  EXPECT_EQ(bf.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf, exact.to(torch::kBFloat16)));
}

// Loss L(W') = Σ (X W'ᵀ) ⊙ R for fixed X, R: G = dL/dW' = Rᵀ X.
TEST(SvfZGrad, ClosedFormMatchesAutogradAndFiniteDifferences) {
  torch::manual_seed(5);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto W = torch::randn({10, 6}, opts);
  auto f = svf_decompose(W, true);
  auto X = torch::randn({8, 6}, opts), R = torch::randn({8, 10}, opts);
  auto z = (0.1 + torch::randn({f.rank()}, opts)).requires_grad_(true);
  auto loss_of = [&](const torch::Tensor& zz) {
    auto Wp = torch::matmul(f.U * svf_scale(f.S, torch::sigmoid(zz)).unsqueeze(0), f.V.t());
    return (torch::matmul(X, Wp.t()) * R).sum();
  };
  auto L = loss_of(z);
  auto auto_grad = torch::autograd::grad({L}, {z})[0];
  auto G = torch::matmul(R.t(), X);
  auto g = (torch::matmul(f.U.t(), torch::matmul(G, f.V))).diagonal();
  auto closed = svf_z_grad(f.S, z.detach(), g);
  EXPECT_LE(rel_err(closed, auto_grad), 1e-10);
  torch::NoGradGuard ng;
  auto fd = torch::zeros_like(closed);
  const double h = 1e-6;
  for (int64_t i = 0; i < f.rank(); ++i) {
    auto zp = z.detach().clone(), zm = z.detach().clone();
    zp[i] += h;
    zm[i] -= h;
    fd[i] = (loss_of(zp) - loss_of(zm)) / (2 * h);
  }
  EXPECT_LE(rel_err(closed, fd), 1e-6);
}

}  // namespace
}  // namespace t2
