#include "workers/linear-rows.h"

#include <ATen/Parallel.h>

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#define T2_HAVE_AVX512_KERNEL 1
#endif

namespace t2 {

namespace {

#ifdef T2_HAVE_AVX512_KERNEL
// GCC 12 warns inside its own AVX-512 intrinsics (_mm512_reduce_add_ps, the 256/128-bit extracts:
// their _mm512_undefined_ps / __Y placeholders): a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// The four sums of a, b, c, d in one vector: [Σa, Σb, Σc, Σd].
__attribute__((target("avx512f"))) inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
  const __m512 s = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd)));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(s),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// y[r][0..4) = W[0..4) · x[r] for MR activation rows (stride `in`), four weight rows (stride `in`):
// 4·MR accumulators, 4 + MR loads per 4·MR FMAs. Meanwhile one cache line of the weight rows that
// come next (`pf`, `pf_step` floats per k-step) is prefetched, so the weight stream from memory
// overlaps the arithmetic instead of alternating with it. The prefetch goes to L2 (hint T1), not
// L1: the lines are first used a group later, and prefetching into L1 measured slower (batch-16
// step of the 110M model: 53 -> 47 ms of CPU with T1; probably the L1 prefetches competing with the
// current rows' loads for the core's few L1 miss buffers).
template <int MR>
__attribute__((target("avx512f"))) inline void rows4(const float* x, const float* w0, int64_t in, int64_t out,
                                                     float* y, const float* pf, int64_t pf_step) {
  const float* w1 = w0 + in;
  const float* w2 = w1 + in;
  const float* w3 = w2 + in;
  __m512 acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t k = 0, p = 0; k < in; k += 16, p += pf_step) {
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + p), _MM_HINT_T1);
    const __m512 v0 = _mm512_loadu_ps(w0 + k), v1 = _mm512_loadu_ps(w1 + k);
    const __m512 v2 = _mm512_loadu_ps(w2 + k), v3 = _mm512_loadu_ps(w3 + k);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512 xr = _mm512_loadu_ps(x + r * in + k);
      acc[r][0] = _mm512_fmadd_ps(v0, xr, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(v1, xr, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(v2, xr, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(v3, xr, acc[r][3]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) _mm_storeu_ps(y + r * out, sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

// One weight row (the last out % 4) against every activation row.
__attribute__((target("avx512f"))) inline void row1(const float* x, int64_t M, const float* w0, int64_t in,
                                                    int64_t out, float* y) {
  for (int64_t m = 0; m < M; ++m) {
    const float* xa = x + m * in;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= in; k += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), _mm512_loadu_ps(xa + k), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k + 16), _mm512_loadu_ps(xa + k + 16), a1);
    }
    for (; k < in; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), _mm512_loadu_ps(xa + k), a0);
    y[m * out] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

// y[m][i] = W[i] · x[m] for weight rows i in [i0, i1) and all M activation rows; `in` a multiple of
// 16. Each group of four weight rows is read from memory once and stays in L1 while the activation
// rows pass over it four at a time.
__attribute__((target("avx512f"))) void small_rows_avx512(const float* x, int64_t M, const float* W, int64_t in,
                                                          int64_t out, int64_t i0, int64_t i1, float* y) {
  const int64_t passes = (M + 3) / 4;
  // the next four rows (4·in floats) spread over this group's passes x in/16 k-steps
  const int64_t pf_step = std::max<int64_t>(1, 64 / passes);
  int64_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const float* w = W + i * in;
    const float* next = i + 8 <= i1 ? w + 4 * in : nullptr;
    int64_t m = 0, pass = 0;
    for (; m + 4 <= M; m += 4, ++pass)
      rows4<4>(x + m * in, w, in, out, y + m * out + i, next ? next + pass * pf_step * (in / 16) : nullptr, pf_step);
    const float* pf = next ? next + pass * pf_step * (in / 16) : nullptr;
    switch (M - m) {
      case 3: rows4<3>(x + m * in, w, in, out, y + m * out + i, pf, pf_step); break;
      case 2: rows4<2>(x + m * in, w, in, out, y + m * out + i, pf, pf_step); break;
      case 1: rows4<1>(x + m * in, w, in, out, y + m * out + i, pf, pf_step); break;
      default: break;
    }
  }
  for (; i < i1; ++i) row1(x, M, W + i * in, in, out, y + i);
}

// y[i] = W[i] · x for one activation row, weight rows [i0, i1): one weight row at a time, read
// front to back with four accumulators. One sequential stream is what the hardware prefetcher
// follows best: on the development machine (AMD EPYC, AVX-512) this reads the 110M model's weights
// at 20-23 GB/s, where OpenBLAS sgemv reaches 13-16 and interleaving two or four rows 13-18.
__attribute__((target("avx512f"))) void one_row_avx512(const float* x, const float* W, int64_t in, int64_t i0,
                                                       int64_t i1, float* y) {
  for (int64_t i = i0; i < i1; ++i) {
    const float* w = W + i * in;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 64 <= in; k += 64) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k < in; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
    y[i] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
}

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#else
bool have_avx512() { return false; }
void small_rows_avx512(const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t, float*) {}
void one_row_avx512(const float*, const float*, int64_t, int64_t, int64_t, float*) {}
#endif

constexpr int64_t kSmallRowsMax = 32;
constexpr int64_t kSmallRowsMinWeights = 256 * 1024;  // floats

}  // namespace

bool small_rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, torch::Tensor& out) {
  const int64_t M = x2.size(0), in = x2.size(1), n_out = w.size(0);
  if (M < 1 || M > kSmallRowsMax || !have_avx512() || !x2.device().is_cpu() || !w.device().is_cpu() ||
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
    if (M == 1)
      one_row_avx512(xp, wp, in, b0 * 64, std::min(n_out, b1 * 64), yp);
    else
      small_rows_avx512(xp, M, wp, in, n_out, b0 * 64, std::min(n_out, b1 * 64), yp);
  });
  return true;
}

torch::Tensor rows_times_weight(const torch::Tensor& x2, const torch::Tensor& w, const torch::Tensor& bias) {
  torch::Tensor y;
  // the kernels' gain is not repacking (or, for one row, streaming) weights read from memory; a
  // matrix that fits in cache (under 1 MB) packs cheaply and BLAS's blocking wins
  const bool large = w.numel() >= kSmallRowsMinWeights;
  if (x2.size(0) == 1) {
    if (large && small_rows_times_weight(x2, w, y)) return bias.defined() ? y.add_(bias) : y;
    torch::Tensor x1 = x2.select(0, 0);
    return (bias.defined() ? torch::addmv(bias, w, x1) : torch::mv(w, x1)).unsqueeze(0);
  }
  if (large && small_rows_times_weight(x2, w, y)) return bias.defined() ? y.add_(bias) : y;
  return bias.defined() ? torch::addmm(bias, x2, w.t()) : torch::mm(x2, w.t());
}

}  // namespace t2
