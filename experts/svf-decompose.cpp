#include "experts/svf-decompose.h"

#include "core/check.h"

namespace t2 {

SvfFactors svf_decompose(const torch::Tensor& W, bool fp64) {
  T2_CHECK(W.dim() == 2, "SVD needs a matrix, got a tensor with {} dims", W.dim());
  auto A = W.to(fp64 ? torch::kFloat64 : torch::kFloat32);
  // LibTorch 1.13 needs the driver argument spelled out.
  auto [U, S, Vh] = torch::linalg::svd(A, /*full_matrices=*/false, c10::nullopt);
  SvfFactors f;
  f.U = U.contiguous();
  f.S = S.contiguous();
  f.V = Vh.t().contiguous();
  return f;
}

}  // namespace t2
