#include "workers/decode-attention.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace t2 {

namespace {

#if defined(__x86_64__)
// GCC 12 warns inside its own _mm512_reduce_add_ps (an undefined placeholder): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f"))) float dot16(const float* a, const float* b, int64_t n) {
  __m512 s = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s);
  return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx512f"))) void axpy16(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
}
bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#else
float dot16(const float*, const float*, int64_t) { return 0; }
void axpy16(float, const float*, float*, int64_t) {}
bool have_avx512() { return false; }
#endif

float dot(const float* a, const float* b, int64_t n, bool wide) {
  if (wide) return dot16(a, b, n);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int64_t n, bool wide) {
  if (wide) return axpy16(a, x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& K, const torch::Tensor& V,
                               const torch::Tensor& visible, double scale, bool& ok) {
  ok = false;
  if (q.dim() != 4 || K.dim() != 4 || V.dim() != 4 || q.size(2) != 1) return {};
  const int64_t B = q.size(0), H = q.size(1), D = q.size(3), KVH = K.size(1), S = K.size(2);
  for (const auto* t : {&q, &K, &V})
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat || t->stride(3) != 1) return {};
  if (K.sizes() != V.sizes() || K.size(0) != B || K.size(3) != D || KVH == 0 || H % KVH != 0) return {};
  if (visible.scalar_type() != torch::kBool || !visible.device().is_cpu() || visible.numel() != B * S) return {};
  if (torch::GradMode::is_enabled() && (q.requires_grad() || K.requires_grad() || V.requires_grad())) return {};
  ok = true;
  const int64_t G = H / KVH;
  const bool wide = D % 16 == 0 && have_avx512();
  torch::Tensor vis = visible.reshape({B, S}).contiguous();
  torch::Tensor out = torch::zeros({B, 1, H * D}, q.options());
  const float* qp = q.data_ptr<float>();
  const float* kp = K.data_ptr<float>();
  const float* vp = V.data_ptr<float>();
  const bool* mp = vis.data_ptr<bool>();
  float* op = out.data_ptr<float>();
  const int64_t qs0 = q.stride(0), qs1 = q.stride(1), ks0 = K.stride(0), ks1 = K.stride(1), ks2 = K.stride(2);
  const int64_t vs0 = V.stride(0), vs1 = V.stride(1), vs2 = V.stride(2);
  const float fscale = static_cast<float>(scale);
  at::parallel_for(0, B * KVH, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> p(static_cast<size_t>(S));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / KVH, kh = t % KVH;
      const float* kb = kp + b * ks0 + kh * ks1;
      const float* vb = vp + b * vs0 + kh * vs1;
      const bool* mb = mp + b * S;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t h = kh * G + g;
        const float* qh = qp + b * qs0 + h * qs1;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < S; ++s) {
          p[static_cast<size_t>(s)] = mb[s] ? fscale * dot(qh, kb + s * ks2, D, wide) : -std::numeric_limits<float>::infinity();
          mx = std::max(mx, p[static_cast<size_t>(s)]);
        }
        float sum = 0;
        for (int64_t s = 0; s < S; ++s) {
          const float e = mb[s] ? std::exp(p[static_cast<size_t>(s)] - mx) : 0.0f;
          p[static_cast<size_t>(s)] = e;
          sum += e;
        }
        float* oh = op + b * H * D + h * D;
        const float inv = 1.0f / sum;
        for (int64_t s = 0; s < S; ++s)
          if (p[static_cast<size_t>(s)] != 0.0f) axpy(p[static_cast<size_t>(s)] * inv, vb + s * vs2, oh, D, wide);
      }
    }
  });
  return out;
}

}  // namespace t2
