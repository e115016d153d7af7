#include "workers/linear-rows.h"

#include <ATen/Parallel.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define T2_HAVE_AVX512_KERNEL 1
#endif

namespace t2 {

namespace {

#ifdef T2_HAVE_AVX512_KERNEL
// GCC 12 warns inside _mm512_reduce_add_ps (its own _mm512_undefined_ps): a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// y[m][i] = W[i] · x[m] for rows i in [i0, i1); `in` a multiple of 16. Four weight rows by two
// activation rows per pass: eight independent accumulators, six loads per eight FMAs; the four
// weight rows (4 * in floats) stay in L1 while every activation row passes over them.
__attribute__((target("avx512f"))) void small_rows_avx512(const float* x, int64_t M, const float* W, int64_t in,
                                                          int64_t out, int64_t i0, int64_t i1, float* y) {
  int64_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const float* w0 = W + i * in;
    const float* w1 = w0 + in;
    const float* w2 = w1 + in;
    const float* w3 = w2 + in;
    int64_t m = 0;
    for (; m + 2 <= M; m += 2) {
      const float* xa = x + m * in;
      const float* xb = xa + in;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
      __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
      for (int64_t k = 0; k < in; k += 16) {
        const __m512 va = _mm512_loadu_ps(xa + k), vb = _mm512_loadu_ps(xb + k);
        const __m512 v0 = _mm512_loadu_ps(w0 + k), v1 = _mm512_loadu_ps(w1 + k);
        const __m512 v2 = _mm512_loadu_ps(w2 + k), v3 = _mm512_loadu_ps(w3 + k);
        a0 = _mm512_fmadd_ps(v0, va, a0);
        a1 = _mm512_fmadd_ps(v1, va, a1);
        a2 = _mm512_fmadd_ps(v2, va, a2);
        a3 = _mm512_fmadd_ps(v3, va, a3);
        b0 = _mm512_fmadd_ps(v0, vb, b0);
        b1 = _mm512_fmadd_ps(v1, vb, b1);
        b2 = _mm512_fmadd_ps(v2, vb, b2);
        b3 = _mm512_fmadd_ps(v3, vb, b3);
      }
      float* ya = y + m * out + i;
      float* yb = ya + out;
      ya[0] = _mm512_reduce_add_ps(a0);
      ya[1] = _mm512_reduce_add_ps(a1);
      ya[2] = _mm512_reduce_add_ps(a2);
      ya[3] = _mm512_reduce_add_ps(a3);
      yb[0] = _mm512_reduce_add_ps(b0);
      yb[1] = _mm512_reduce_add_ps(b1);
      yb[2] = _mm512_reduce_add_ps(b2);
      yb[3] = _mm512_reduce_add_ps(b3);
    }
    for (; m < M; ++m) {
      const float* xa = x + m * in;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
      for (int64_t k = 0; k < in; k += 16) {
        const __m512 va = _mm512_loadu_ps(xa + k);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), va, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), va, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), va, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), va, a3);
      }
      float* ya = y + m * out + i;
      ya[0] = _mm512_reduce_add_ps(a0);
      ya[1] = _mm512_reduce_add_ps(a1);
      ya[2] = _mm512_reduce_add_ps(a2);
      ya[3] = _mm512_reduce_add_ps(a3);
    }
  }
  for (; i < i1; ++i) {
    const float* w0 = W + i * in;
    for (int64_t m = 0; m < M; ++m) {
      const float* xa = x + m * in;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
      int64_t k = 0;
      for (; k + 32 <= in; k += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), _mm512_loadu_ps(xa + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k + 16), _mm512_loadu_ps(xa + k + 16), a1);
      }
      for (; k < in; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), _mm512_loadu_ps(xa + k), a0);
      y[m * out + i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
  }
}

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#else
bool have_avx512() { return false; }
void small_rows_avx512(const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t, float*) {}
#endif

constexpr int64_t kSmallRowsMax = 32;
constexpr int64_t kSmallRowsMinWeights = 256 * 1024;  // floats

}  // namespace

bool small_rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, torch::Tensor& out) {
  const int64_t M = x2.size(0), in = x2.size(1), n_out = w.size(0);
  if (M < 2 || M > kSmallRowsMax || !have_avx512() || !x2.device().is_cpu() || !w.device().is_cpu() ||
      x2.scalar_type() != torch::kFloat || w.scalar_type() != torch::kFloat || in % 16 != 0 || w.size(1) != in ||
      !x2.is_contiguous() || !w.is_contiguous() ||
      (torch::GradMode::is_enabled() && (x2.requires_grad() || w.requires_grad())))
    return false;
  out = torch::empty({M, n_out}, x2.options());
  const float* xp = x2.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  float* yp = out.data_ptr<float>();
  // blocks of 64 weight rows per task; one thread runs them in order
  at::parallel_for(0, (n_out + 63) / 64, 1, [&](int64_t b0, int64_t b1) {
    small_rows_avx512(xp, M, wp, in, n_out, b0 * 64, std::min(n_out, b1 * 64), yp);
  });
  return true;
}

torch::Tensor rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, const torch::Tensor& bias) {
  if (x2.size(0) == 1) {
    torch::Tensor x1 = x2.select(0, 0);
    return (bias.defined() ? torch::addmv(bias, w, x1) : torch::mv(w, x1)).unsqueeze(0);
  }
  // the kernel's gain is not repacking weights streamed from memory; a matrix that fits in cache
  // (under 1 MB) packs cheaply and GEMM's blocking wins
  torch::Tensor y;
  if (w.numel() >= kSmallRowsMinWeights && small_rows_times_weight(x2, w, y)) return bias.defined() ? y.add_(bias) : y;
  return bias.defined() ? torch::addmm(bias, x2, w.t()) : torch::mm(x2, w.t());
}

}  // namespace t2
