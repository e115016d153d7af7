/* ref-decode: a minimal single-file fp32 Llama decoder in plain C, the reference that
 * bench/runtime/t2_decode_bench holds t2's decode against. One float buffer per weight, plain loops,
 * no BLAS, no threads; the inner dot product is written so that the compiler vectorizes it at
 * -O3 -march=native without -ffast-math (independent partial sums, no reassociation needed).
 *
 * Model: Llama with grouped-query attention, RMSNorm, SwiGLU, rotary embeddings in the Hugging Face
 * convention (dimension i pairs with i + head_dim/2), so the weights need no permutation.
 *
 * File layout (all little-endian; written by t2_decode_bench from the safetensors checkpoint):
 *   char magic[8] = "T2REFDEC"; int32 version = 1;
 *   int32 dim, hidden, layers, heads, kv_heads, vocab, max_seq, shared_classifier;
 *   float rope_theta, rms_eps;
 *   then float32 arrays: embed[vocab][dim]; per layer: attn_norm[dim], wq[heads*hd][dim],
 *   wk[kv*hd][dim], wv[kv*hd][dim], wo[dim][heads*hd], ffn_norm[dim], w_gate[hidden][dim],
 *   w_up[hidden][dim], w_down[dim][hidden]; final_norm[dim]; classifier[vocab][dim] unless shared.
 *
 *   ref-decode FILE BATCH TOKENS  -> one JSON line: per-token ms (wall and process CPU time),
 *                                   first-token s, peak RSS, ids of row 0
 * Row b starts from token id 1 + b and decodes greedily; the batch shares each weight row read.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
  int dim, hidden, layers, heads, kv_heads, vocab, max_seq, shared;
  float theta, eps;
} Config;

typedef struct {
  float *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_up, *w_down;
} Layer;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float* read_floats(FILE* f, size_t n) {
  float* p = (float*)malloc(n * sizeof(float));
  if (!p || fread(p, sizeof(float), n, f) != n) {
    fprintf(stderr, "ref-decode: short read of %zu floats\n", n);
    exit(1);
  }
  return p;
}

/* 32 independent partial sums: the compiler maps them onto several vector registers, so the
 * multiply-adds do not wait on one another (one accumulator is FMA-latency bound, not memory bound). */
static float dot(const float* restrict w, const float* restrict x, int n) {
  float acc[32] = {0};
  int j = 0;
  for (; j + 32 <= n; j += 32)
    for (int k = 0; k < 32; ++k) acc[k] += w[j + k] * x[j + k];
  float s = 0.0f;
  for (; j < n; ++j) s += w[j] * x[j];
  for (int k = 0; k < 32; ++k) s += acc[k];
  return s;
}

/* out[b][i] = sum_j w[i][j] * x[b][j]: each weight row is read once for the whole batch. */
static void matmul(float* out, const float* x, const float* w, int batch, int n, int d) {
  for (int i = 0; i < d; ++i) {
    const float* row = w + (size_t)i * n;
    for (int b = 0; b < batch; ++b) out[(size_t)b * d + i] = dot(row, x + (size_t)b * n, n);
  }
}

static void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
  float ss = 0.0f;
  for (int j = 0; j < n; ++j) ss += x[j] * x[j];
  float r = 1.0f / sqrtf(ss / (float)n + eps);
  for (int j = 0; j < n; ++j) out[j] = w[j] * (x[j] * r);
}

static void rope(float* v, int heads, int hd, int pos, float theta) {
  int half = hd / 2;
  for (int i = 0; i < half; ++i) {
    double ang = (double)pos * pow((double)theta, -2.0 * i / (double)hd);
    float c = (float)cos(ang), s = (float)sin(ang);
    for (int h = 0; h < heads; ++h) {
      float* p = v + h * hd;
      float a = p[i], b = p[i + half];
      p[i] = a * c - b * s;
      p[i + half] = b * c + a * s;
    }
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ref-decode FILE BATCH TOKENS\n");
    return 2;
  }
  const double t_start = now_s();
  const int B = atoi(argv[2]), N = atoi(argv[3]);
  FILE* f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  char magic[8];
  int32_t version, hdr[8];
  float fh[2];
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "T2REFDEC", 8) != 0 || fread(&version, 4, 1, f) != 1 ||
      version != 1 || fread(hdr, 4, 8, f) != 8 || fread(fh, 4, 2, f) != 2) {
    fprintf(stderr, "ref-decode: %s is not a version-1 T2REFDEC file\n", argv[1]);
    return 1;
  }
  Config c = {hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], hdr[7], fh[0], fh[1]};
  const int hd = c.dim / c.heads, qd = c.heads * hd, kvd = c.kv_heads * hd, group = c.heads / c.kv_heads;
  if (N + 1 > c.max_seq) {
    fprintf(stderr, "ref-decode: %d tokens exceed the context %d\n", N, c.max_seq);
    return 1;
  }
  float* embed = read_floats(f, (size_t)c.vocab * c.dim);
  Layer* L = (Layer*)calloc((size_t)c.layers, sizeof(Layer));
  for (int l = 0; l < c.layers; ++l) {
    L[l].attn_norm = read_floats(f, (size_t)c.dim);
    L[l].wq = read_floats(f, (size_t)qd * c.dim);
    L[l].wk = read_floats(f, (size_t)kvd * c.dim);
    L[l].wv = read_floats(f, (size_t)kvd * c.dim);
    L[l].wo = read_floats(f, (size_t)c.dim * qd);
    L[l].ffn_norm = read_floats(f, (size_t)c.dim);
    L[l].w_gate = read_floats(f, (size_t)c.hidden * c.dim);
    L[l].w_up = read_floats(f, (size_t)c.hidden * c.dim);
    L[l].w_down = read_floats(f, (size_t)c.dim * c.hidden);
  }
  float* final_norm = read_floats(f, (size_t)c.dim);
  float* cls = c.shared ? embed : read_floats(f, (size_t)c.vocab * c.dim);
  fclose(f);

  const int S = N + 1;
  float* x = (float*)malloc(sizeof(float) * (size_t)B * c.dim);
  float* xb = (float*)malloc(sizeof(float) * (size_t)B * c.dim);
  float* q = (float*)malloc(sizeof(float) * (size_t)B * qd);
  float* att_out = (float*)malloc(sizeof(float) * (size_t)B * qd);
  float* tmp = (float*)malloc(sizeof(float) * (size_t)B * c.dim);
  float* g = (float*)malloc(sizeof(float) * (size_t)B * c.hidden);
  float* u = (float*)malloc(sizeof(float) * (size_t)B * c.hidden);
  float* k = (float*)malloc(sizeof(float) * (size_t)B * kvd);
  float* v = (float*)malloc(sizeof(float) * (size_t)B * kvd);
  float* att = (float*)malloc(sizeof(float) * (size_t)S);
  float* logits = (float*)malloc(sizeof(float) * (size_t)B * c.vocab);
  /* cache[layer][b][pos][kvd] */
  float* kc = (float*)malloc(sizeof(float) * (size_t)c.layers * B * S * kvd);
  float* vc = (float*)malloc(sizeof(float) * (size_t)c.layers * B * S * kvd);
  int* tok = (int*)malloc(sizeof(int) * (size_t)B);
  int* ids0 = (int*)malloc(sizeof(int) * (size_t)N);
  for (int b = 0; b < B; ++b) tok[b] = (1 + b) % c.vocab;

  double t_first = 0, t_second = 0, c_second = 0;
  for (int pos = 0; pos < N; ++pos) {
    for (int b = 0; b < B; ++b) memcpy(x + (size_t)b * c.dim, embed + (size_t)tok[b] * c.dim, sizeof(float) * c.dim);
    for (int l = 0; l < c.layers; ++l) {
      const Layer* W = &L[l];
      for (int b = 0; b < B; ++b) rmsnorm(xb + (size_t)b * c.dim, x + (size_t)b * c.dim, W->attn_norm, c.dim, c.eps);
      matmul(q, xb, W->wq, B, c.dim, qd);
      matmul(k, xb, W->wk, B, c.dim, kvd);
      matmul(v, xb, W->wv, B, c.dim, kvd);
      for (int b = 0; b < B; ++b) {
        rope(q + (size_t)b * qd, c.heads, hd, pos, c.theta);
        rope(k + (size_t)b * kvd, c.kv_heads, hd, pos, c.theta);
        float* kcb = kc + (((size_t)l * B + b) * S) * kvd;
        float* vcb = vc + (((size_t)l * B + b) * S) * kvd;
        memcpy(kcb + (size_t)pos * kvd, k + (size_t)b * kvd, sizeof(float) * kvd);
        memcpy(vcb + (size_t)pos * kvd, v + (size_t)b * kvd, sizeof(float) * kvd);
        for (int h = 0; h < c.heads; ++h) {
          const float* qh = q + (size_t)b * qd + h * hd;
          const int kvh = h / group;
          float mx = -INFINITY, sum = 0.0f;
          for (int t = 0; t <= pos; ++t) {
            att[t] = dot(qh, kcb + (size_t)t * kvd + kvh * hd, hd) / sqrtf((float)hd);
            if (att[t] > mx) mx = att[t];
          }
          for (int t = 0; t <= pos; ++t) sum += att[t] = expf(att[t] - mx);
          float* o = att_out + (size_t)b * qd + h * hd;
          memset(o, 0, sizeof(float) * hd);
          for (int t = 0; t <= pos; ++t) {
            const float a = att[t] / sum, *vt = vcb + (size_t)t * kvd + kvh * hd;
            for (int j = 0; j < hd; ++j) o[j] += a * vt[j];
          }
        }
      }
      matmul(tmp, att_out, W->wo, B, qd, c.dim);
      for (size_t j = 0; j < (size_t)B * c.dim; ++j) x[j] += tmp[j];
      for (int b = 0; b < B; ++b) rmsnorm(xb + (size_t)b * c.dim, x + (size_t)b * c.dim, W->ffn_norm, c.dim, c.eps);
      matmul(g, xb, W->w_gate, B, c.dim, c.hidden);
      matmul(u, xb, W->w_up, B, c.dim, c.hidden);
      for (size_t j = 0; j < (size_t)B * c.hidden; ++j) g[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
      matmul(tmp, g, W->w_down, B, c.hidden, c.dim);
      for (size_t j = 0; j < (size_t)B * c.dim; ++j) x[j] += tmp[j];
    }
    for (int b = 0; b < B; ++b) rmsnorm(xb + (size_t)b * c.dim, x + (size_t)b * c.dim, final_norm, c.dim, c.eps);
    matmul(logits, xb, cls, B, c.dim, c.vocab);
    for (int b = 0; b < B; ++b) { /* greedy: the first maximum */
      const float* r = logits + (size_t)b * c.vocab;
      int best = 0;
      for (int i = 1; i < c.vocab; ++i)
        if (r[i] > r[best]) best = i;
      tok[b] = best;
    }
    ids0[pos] = tok[0];
    if (pos == 0) t_first = now_s();
    if (pos == 1) {
      t_second = now_s();
      c_second = cpu_s();
    }
  }
  const double t_end = now_s(), c_end = cpu_s();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double per_token_ms = N > 2 ? 1e3 * (t_end - t_second) / (double)(N - 2) : 1e3 * (t_end - t_first);
  const double per_token_cpu_ms = N > 2 ? 1e3 * (c_end - c_second) / (double)(N - 2) : 0;
  printf("{\"per_token_ms\": %.4f, \"per_token_cpu_ms\": %.4f, \"first_token_s\": %.4f, \"peak_rss_mib\": %.1f, "
         "\"ids\": [",
         per_token_ms, per_token_cpu_ms, t_first - t_start, (double)ru.ru_maxrss / 1024.0);
  for (int i = 0; i < N; ++i) printf("%s%d", i ? ", " : "", ids0[i]);
  printf("]}\n");
  return 0;
}
