// The row layouts of the factored SVF layer: per-sequence scales applied through blocks of equal
// rows (padded batches), through a gather (ragged or interleaved rows), in place (no grad) or not,
// all equal to a row-by-row reference, and the closed-form dL/dz and dL/dx equal plain autograd.
#include <gtest/gtest.h>

#include "experts/svf-decompose.h"
#include "experts/svf-linear.h"

namespace t2 {
namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Row layouts of 12 rows over 3 sequences.
std::vector<std::vector<int64_t>> layouts() {
  return {
      {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2},  // blocks of 4 (a padded batch)
      {2, 2, 2, 0, 0, 0, 1, 1, 1, 0, 0, 0},  // blocks of 3, a sequence twice
      {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2},  // interleaved: blocks of 1
      {0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2},  // ragged: gather
  };
}

TEST(SvfRows, FactoredForwardEqualsRowByRowForEveryLayout) {
  torch::manual_seed(4);
  auto f = svf_decompose(torch::randn({10, 7}), true);
  auto x = torch::randn({12, 7}, torch::kFloat64);
  auto scale = torch::rand({3, 7}, torch::kFloat64);
  for (const auto& rows : layouts()) {
    auto row_of = torch::tensor(rows, torch::kLong);
    std::vector<torch::Tensor> ref;
    for (int64_t i = 0; i < 12; ++i)
      ref.push_back(torch::matmul(f.U, scale[rows[static_cast<size_t>(i)]] * torch::matmul(f.V.t(), x[i])));
    auto expect = torch::stack(ref);
    {
      torch::NoGradGuard ng;  // in-place scaling
      EXPECT_LE(max_abs_diff(svf_factored_forward(f, x, scale, row_of), expect), 1e-12);
    }
    // differentiable scale: out of place, gradient equal to the gather formulation's
    auto s1 = scale.clone().requires_grad_(true), s2 = scale.clone().requires_grad_(true);
    auto w = torch::randn({12, 10}, torch::kFloat64);
    (svf_factored_forward(f, x, s1, row_of) * w).sum().backward();
    (torch::matmul(torch::matmul(x, f.V) * s2.index_select(0, row_of), f.U.t()) * w).sum().backward();
    EXPECT_LE(max_abs_diff(s1.grad(), s2.grad()), 1e-12);
  }
}

TEST(SvfRows, ClosedFormGradientsEqualAutogradForEveryLayout) {
  torch::manual_seed(5);
  auto f = svf_decompose(torch::randn({9, 6}), true);
  for (const auto& rows : layouts()) {
    auto row_of = torch::tensor(rows, torch::kLong);
    auto z0 = torch::randn({3, 6}, torch::kFloat64);
    auto x0 = torch::randn({12, 6}, torch::kFloat64);
    auto w = torch::randn({12, 9}, torch::kFloat64);
    auto z1 = z0.clone().requires_grad_(true), x1 = x0.clone().requires_grad_(true);
    (svf_linear_z(f, x1, z1, row_of) * w).sum().backward();
    auto z2 = z0.clone().requires_grad_(true), x2 = x0.clone().requires_grad_(true);
    (svf_factored_forward(f, x2, svf_scale(f.S, torch::sigmoid(z2)), row_of) * w).sum().backward();
    EXPECT_LE(max_abs_diff(z1.grad(), z2.grad()), 1e-12);
    EXPECT_LE(max_abs_diff(x1.grad(), x2.grad()), 1e-12);
  }
}

}  // namespace
}  // namespace t2
