// The product of a few activation rows with a weight matrix, x [N, in] · Wᵀ (W [out, in], row-major
// as checkpoints store it), by the cheapest route for N: decode steps have N = batch size, far below
// what GEMM libraries are tuned for. INTERNAL to workers/ (torch).
//   N = 1:        on a CPU with AVX-512, fp32, no autograd, weights of 1 MB or more: one weight row
//                 at a time, streamed front to back (23 GB/s on the development machine, OpenBLAS
//                 sgemv 13-16); otherwise BLAS gemv (gemm would pack, i.e. copy, the whole matrix);
//   2 <= N <= 32: on such a CPU and weights: a register-blocked kernel (4 weight rows x 4 activation rows, the next weight rows
//                 prefetched while these are multiplied) that reads each weight row once for all N
//                 rows, in place (OpenBLAS 0.3.21 sgemm runs such shapes at about a third of the
//                 memory bandwidth, dominated by packing the weights);
//   otherwise:    GEMM (addmm / mm), any device, dtype and autograd.
#pragma once

#include <torch/torch.h>

namespace t2 {

// x2 [N, in] · wᵀ (+ bias [out]) -> [N, out].
torch::Tensor rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, const torch::Tensor& bias);

// The small-N kernel alone (for tests): false when it does not apply to these operands / this CPU.
bool small_rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, torch::Tensor& out);

}  // namespace t2
