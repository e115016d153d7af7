#include "workers/model.h"

#include <cmath>

#include "cluster/communicator.h"
#include "core/check.h"
#include "core/names.h"
#include "workers/decode-attention.h"
#include "workers/linear-rows.h"
#include "workers/memory-sizing.h"
#include "workers/safetensors.h"
#include "workers/tp-collectives.h"

namespace t2 {

namespace {

torch::Dtype parse_dtype(const std::string& s, bool cuda) {
  if (s == "auto") return cuda ? torch::kBFloat16 : torch::kFloat;
  if (s == "float32" || s == "fp32") return torch::kFloat;
  if (s == "bfloat16" || s == "bf16") return torch::kBFloat16;
  if (s == "float16" || s == "fp16") return torch::kHalf;
  T2_FAIL_AS(UsageError, "dtype '{}' is not supported; {}", s, suggest(s, {"auto", "float32", "bfloat16", "float16"}));
}

torch::Device parse_device(const std::string& s) {
  if (s == "cpu") return torch::Device(torch::kCPU);
  T2_CHECK_AS(UsageError, s.rfind("cuda", 0) == 0, "device '{}' is not supported; use cpu, cuda or cuda:N", s);
  T2_CHECK_AS(NotAvailable, torch::cuda::is_available(),
              "device '{}' requested but this LibTorch has no CUDA or no GPU is visible", s);
  return torch::Device(s);
}

torch::Dtype torch_dtype_of(TensorDType t) {
  switch (t) {
    case TensorDType::f32: return torch::kFloat;
    case TensorDType::f16: return torch::kHalf;
    case TensorDType::bf16: return torch::kBFloat16;
  }
  return torch::kFloat;
}

// A slice [offset, offset+count) along `dim` of a checkpoint tensor, as a view of the mapped file in
// the checkpoint's dtype (no copy; the view keeps the mapping alive).
torch::Tensor mapped_slice(const std::shared_ptr<Checkpoint>& ck, const std::string& name,
                           const std::vector<int64_t>& shape, int64_t dim, int64_t offset, int64_t count) {
  ck->expect_shape(name, shape);
  const TensorInfo& t = ck->info(name);
  torch::Tensor full = torch::from_blob(const_cast<void*>(ck->data(name)), t.shape, [ck](void*) {},
                                        torch::TensorOptions().dtype(torch_dtype_of(t.dtype)));
  return count < full.size(dim) ? full.narrow(dim, offset, count) : full;
}

// A mapped slice where the model serves it: the mapped pages themselves when they already are in the
// serving dtype on the CPU and contiguous (weights held once: the page cache's copy), else one copy.
bool servable_in_place(const torch::Tensor& view, torch::Device dev, torch::Dtype dt) {
  return dev.is_cpu() && view.scalar_type() == dt && view.is_contiguous();
}

// Copies a mapped view into `out` (its sizes; any dtype / device) in blocks of about 16 MB of source
// rows, and gives each block's mapped pages back once it is copied (release_mapped_pages, never past
// the view's own first and last byte): the file's pages and the copy are never both resident, for
// the model or for one large tensor (weights held once; the peak stays one block above the copies).
void copy_releasing(const torch::Tensor& view, torch::Tensor out) {
  const int64_t rows = view.dim() == 0 ? 1 : view.size(0);
  if (view.dim() == 0 || rows == 0 || !view.device().is_cpu()) {
    out.copy_(view);
    return;
  }
  const int64_t esz = view.element_size();
  const int64_t row_bytes = std::max<int64_t>(1, view.stride(0) * esz);
  const int64_t block = std::max<int64_t>(1, (int64_t{16} << 20) / row_bytes);
  const char* first = static_cast<const char*>(view.data_ptr());
  int64_t last = 0;  // element offset of the view's last element
  for (int64_t d = 0; d < view.dim(); ++d) last += (view.size(d) - 1) * view.stride(d);
  const char* end = first + (last + 1) * esz;
  const void* done = first;  // released up to here: the next block starts where this one's pages ended
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t n = std::min(block, rows - r0);
    out.narrow(0, r0, n).copy_(view.narrow(0, r0, n));
    done = release_mapped_pages(done, r0 + n == rows ? end : first + (r0 + n) * row_bytes);
  }
}

torch::Tensor serve(const torch::Tensor& view, torch::Device dev, torch::Dtype dt) {
  if (servable_in_place(view, dev, dt)) return view;
  torch::Tensor out = torch::empty(view.sizes(), torch::TensorOptions().dtype(dt).device(dev));
  copy_releasing(view, out);
  return out;
}

// Rows of several mapped slices stacked in one new matrix on the device (fused q|k|v, gate|up), each
// copied straight from the mapping (and its pages given back): no intermediate per-layer copy.
torch::Tensor stack_rows(const std::vector<torch::Tensor>& views, torch::Device dev, torch::Dtype dt) {
  int64_t rows = 0;
  for (const auto& v : views) rows += v.size(0);
  std::vector<int64_t> sizes = views[0].sizes().vec();
  sizes[0] = rows;
  torch::Tensor out = torch::empty(sizes, torch::TensorOptions().dtype(dt).device(dev));
  int64_t at = 0;
  for (const auto& v : views) {
    copy_releasing(v, out.narrow(0, at, v.size(0)));
    at += v.size(0);
  }
  return out;
}

}  // namespace

Model::~Model() = default;

int Model::tp_rank() const { return comm_ ? comm_->rank() : 0; }
int Model::tp_size() const { return comm_ ? comm_->size() : 1; }

std::unique_ptr<Model> Model::load(const std::string& dir, const LoadOptions& opt) {
  std::unique_ptr<Model> m(new Model());
  m->cfg_ = load_model_config(dir);
  m->device_ = parse_device(opt.device);
  m->dtype_ = parse_dtype(opt.dtype, m->device_.is_cuda());
  m->comm_ = opt.tp_comm;
  const ModelConfig& c = m->cfg_;
  const int64_t tp = m->tp_size();
  T2_CHECK_AS(UsageError, c.num_attention_heads % tp == 0 && c.num_key_value_heads % tp == 0,
              "{}: tensor parallelism {} must divide num_attention_heads {} and num_key_value_heads {}", dir, tp,
              c.num_attention_heads, c.num_key_value_heads);
  T2_CHECK_AS(UsageError, c.intermediate_size % tp == 0,
              "{}: tensor parallelism {} must divide intermediate_size {}", dir, tp, c.intermediate_size);
  m->heads_local_ = c.num_attention_heads / tp;
  m->kv_heads_local_ = c.num_key_value_heads / tp;
  m->inter_local_ = c.intermediate_size / tp;
  m->vocab_sharded_ = tp > 1 && c.vocab_size % tp == 0;
  m->vocab_local_ = m->vocab_sharded_ ? c.vocab_size / tp : c.vocab_size;
  m->vocab_offset_ = m->vocab_sharded_ ? m->tp_rank() * m->vocab_local_ : 0;
  auto ck = std::make_shared<Checkpoint>(Checkpoint::open(dir));
  torch::NoGradGuard ng;
  m->load_weights(ck);
  std::vector<double> f = c.rope_inv_freq();
  m->rope_inv_freq_ = torch::tensor(f, torch::TensorOptions().dtype(torch::kDouble)).to(m->device_);
  return m;
}

void Model::load_weights(const std::shared_ptr<Checkpoint>& ck) {
  const ModelConfig& c = cfg_;
  const int64_t d = c.hidden_size, D = c.head_dim, tp = tp_size(), r = tp_rank();
  auto full = [&](const std::string& n, std::vector<int64_t> shape) {
    return serve(mapped_slice(ck, n, shape, 0, 0, shape[0]), device_, dtype_);
  };
  // The local shard of a linear layer's weight (and bias), as mapped views; `serve` places them.
  struct Views {
    torch::Tensor weight, bias;
  };
  auto make = [&](const std::string& name, LinearKind kind, int64_t out, int64_t in, int64_t out_local,
                  int64_t in_local, bool bias, Views& v) {
    auto l = std::make_unique<Linear>();
    LinearInfo& i = l->info;
    i.name = name;
    i.kind = kind;
    i.out_features = out;
    i.in_features = in;
    i.out_local = out_local;
    i.in_local = in_local;
    i.out_offset = kind == LinearKind::column_parallel ? r * out_local : 0;
    i.in_offset = kind == LinearKind::row_parallel ? r * in_local : 0;
    i.tp_rank = static_cast<int>(r);
    i.tp_size = static_cast<int>(tp);
    if (kind == LinearKind::row_parallel)
      v.weight = mapped_slice(ck, name + ".weight", {out, in}, 1, i.in_offset, in_local);
    else
      v.weight = mapped_slice(ck, name + ".weight", {out, in}, 0, i.out_offset, out_local);
    if (bias) {
      if (kind == LinearKind::row_parallel)
        v.bias = mapped_slice(ck, name + ".bias", {out}, 0, 0, out);
      else
        v.bias = mapped_slice(ck, name + ".bias", {out}, 0, i.out_offset, out_local);
    }
    Linear* p = l.get();
    by_name_[name] = p;
    linears_.push_back(std::move(l));
    return p;
  };
  auto place = [&](Linear* l, const Views& v) {
    l->weight = serve(v.weight, device_, dtype_);
    if (v.bias.defined()) l->bias = serve(v.bias, device_, dtype_);
  };
  // q|k|v and gate|up are fused (one GEMM instead of three / two) only where the weights are copied
  // anyway (another device or dtype): the fused matrix is then built straight from the mapping and
  // the Linear weights are views into it. Served in place from the mapping, they stay separate, so
  // that the weights are held once; on the CPU the unfused products cost the same.
  auto fusable = [&](std::initializer_list<const Views*> vs) {
    for (const Views* v : vs)
      if (servable_in_place(v->weight, device_, dtype_)) return false;
    return true;
  };
  const int64_t Hl = heads_local_ * D, KVl = kv_heads_local_ * D;
  for (int64_t li = 0; li < c.num_hidden_layers; ++li) {
    auto n = ModelConfig::layer_linear_names(li);
    Layer L;
    std::string p = "model.layers." + std::to_string(li) + ".";
    L.input_norm = full(p + "input_layernorm.weight", {d});
    L.post_norm = full(p + "post_attention_layernorm.weight", {d});
    Views q, k, v, o, gate, up, down;
    L.q = make(n[0], LinearKind::column_parallel, c.q_size(), d, Hl, d, c.qkv_bias, q);
    L.k = make(n[1], LinearKind::column_parallel, c.kv_size(), d, KVl, d, c.qkv_bias, k);
    L.v = make(n[2], LinearKind::column_parallel, c.kv_size(), d, KVl, d, c.qkv_bias, v);
    L.o = make(n[3], LinearKind::row_parallel, d, c.q_size(), d, Hl, c.o_bias, o);
    L.gate = make(n[4], LinearKind::column_parallel, c.intermediate_size, d, inter_local_, d, false, gate);
    L.up = make(n[5], LinearKind::column_parallel, c.intermediate_size, d, inter_local_, d, false, up);
    L.down = make(n[6], LinearKind::row_parallel, d, c.intermediate_size, d, inter_local_, false, down);
    place(L.o, o);
    place(L.down, down);
    if (fusable({&q, &k, &v})) {
      L.qkv_weight = stack_rows({q.weight, k.weight, v.weight}, device_, dtype_);
      L.q->weight = L.qkv_weight.narrow(0, 0, Hl);
      L.k->weight = L.qkv_weight.narrow(0, Hl, KVl);
      L.v->weight = L.qkv_weight.narrow(0, Hl + KVl, KVl);
      if (c.qkv_bias) {
        L.qkv_bias = stack_rows({q.bias, k.bias, v.bias}, device_, dtype_);
        L.q->bias = L.qkv_bias.narrow(0, 0, Hl);
        L.k->bias = L.qkv_bias.narrow(0, Hl, KVl);
        L.v->bias = L.qkv_bias.narrow(0, Hl + KVl, KVl);
      }
    } else {
      place(L.q, q);
      place(L.k, k);
      place(L.v, v);
    }
    if (fusable({&gate, &up})) {
      L.gate_up_weight = stack_rows({gate.weight, up.weight}, device_, dtype_);
      L.gate->weight = L.gate_up_weight.narrow(0, 0, inter_local_);
      L.up->weight = L.gate_up_weight.narrow(0, inter_local_, inter_local_);
    } else {
      place(L.gate, gate);
      place(L.up, up);
    }
    layers_.push_back(L);
  }
  final_norm_ = full("model.norm.weight", {d});
  embed_ = serve(mapped_slice(ck, "model.embed_tokens.weight", {c.vocab_size, d}, 0, vocab_offset_, vocab_local_),
                 device_, dtype_);
  if (c.tie_word_embeddings)
    lm_head_ = embed_;
  else
    lm_head_ = serve(mapped_slice(ck, "lm_head.weight", {c.vocab_size, d}, 0, vocab_offset_, vocab_local_), device_,
                     dtype_);
}

// ---------------------------------------------------------------- the adaptation hook

std::vector<LinearInfo> Model::linear_infos() const {
  std::vector<LinearInfo> out;
  for (const auto& l : linears_) out.push_back(l->info);
  return out;
}

Model::Linear& Model::find_linear(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    std::vector<std::string> names;
    for (const auto& kv : by_name_) names.push_back(kv.first);
    T2_FAIL_AS(UsageError, "no linear layer named '{}' (names have no '.weight' suffix); {}", name,
               suggest(name, names).substr(0, 300));
  }
  return *it->second;
}

const Model::Linear& Model::find_linear(const std::string& name) const {
  return const_cast<Model*>(this)->find_linear(name);
}

const LinearInfo& Model::linear_info(const std::string& name) const { return find_linear(name).info; }

void Model::set_adapter(const std::string& name, std::shared_ptr<LinearAdapter> adapter) {
  find_linear(name).adapter = std::move(adapter);
}

void Model::clear_adapters() {
  for (auto& l : linears_) l->adapter.reset();
}

void Model::set_weight(const std::string& name, const torch::Tensor& w) {
  Linear& l = find_linear(name);
  T2_CHECK_AS(UsageError, w.dim() == 2 && w.size(0) == l.info.out_local && w.size(1) == l.info.in_local,
              "set_weight('{}'): expected this rank's shard [{}, {}], got [{}]", name, l.info.out_local,
              l.info.in_local, fmt::join(w.sizes(), ", "));
  torch::NoGradGuard ng;
  l.weight.copy_(w.detach());
}

torch::Tensor Model::weight(const std::string& name) const { return find_linear(name).weight; }

// ---------------------------------------------------------------- forward

torch::Tensor Model::apply_linear(const Linear& l, const torch::Tensor& x, const torch::Tensor& row_of) {
  auto sizes = x.sizes().vec();
  torch::Tensor x2 = x.reshape({-1, l.info.in_local});
  torch::Tensor y;
  const bool row = l.info.kind == LinearKind::row_parallel;
  if (l.adapter) {
    y = l.adapter->forward(x2, l.weight, row_of);
    T2_CHECK(y.dim() == 2 && y.size(0) == x2.size(0) && y.size(1) == l.info.out_local,
             "adapter of '{}' returned [{}], expected [{}, {}]", l.info.name, fmt::join(y.sizes(), ", "), x2.size(0),
             l.info.out_local);
    if (y.scalar_type() != dtype_) y = y.to(dtype_);
    if (row) y = tp_reduce_from(y, comm_);
    if (l.bias.defined()) y = y + l.bias;
  } else if (row) {
    y = tp_reduce_from(rows_times_weight(x2, l.weight, {}), comm_);
    if (l.bias.defined()) y = y + l.bias;
  } else {
    y = rows_times_weight(x2, l.weight, l.bias);
  }
  sizes.back() = l.info.out_local;
  return y.view(sizes);
}

torch::Tensor Model::rms_norm(const torch::Tensor& x, const torch::Tensor& w) const {
  torch::Tensor xf = x.scalar_type() == torch::kFloat ? x : x.to(torch::kFloat);
  if (!torch::GradMode::is_enabled() && dtype_ == torch::kFloat) {
    // outside autograd: the same operations, on the temporaries in place (no new buffer per op)
    torch::Tensor y = xf * xf.pow(2).mean(-1, /*keepdim=*/true).add_(cfg_.rms_norm_eps).rsqrt_();
    return y.mul_(w);
  }
  torch::Tensor y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + cfg_.rms_norm_eps);
  return w * (y.scalar_type() == dtype_ ? y : y.to(dtype_));
}

torch::Tensor Model::embed(const torch::Tensor& ids) {
  if (!vocab_sharded_) return torch::embedding(embed_, ids);
  torch::Tensor local = ids - vocab_offset_;
  torch::Tensor in = (local >= 0) & (local < vocab_local_);
  torch::Tensor e = torch::embedding(embed_, local.clamp(0, vocab_local_ - 1)) * in.unsqueeze(-1).to(dtype_);
  return tp_reduce_from(e, comm_);
}

namespace {

// x [B, H, T, D] rotated in one pass for fp32 CPU tensors outside autograd (cos, sin [B, 1, T, D/2]):
// the same float operations as the tensor expression in rope() (each product rounded, then the sum;
// the build targets baseline x86-64, so nothing is contracted into an FMA), without its seven
// temporaries. Returns an undefined tensor when it does not apply.
torch::Tensor rope_fp32(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (x.dim() != 4 || !x.device().is_cpu() || x.scalar_type() != torch::kFloat || x.stride(3) != 1) return {};
  if (torch::GradMode::is_enabled() && x.requires_grad()) return {};
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3), h2 = D / 2;
  for (const auto* t : {&cos, &sin})
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat || !t->is_contiguous() || t->dim() != 4 ||
        t->size(0) != B || t->size(1) != 1 || t->size(2) != T || t->size(3) != h2)
      return {};
  torch::Tensor out = torch::empty({B, H, T, D}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* cp = cos.data_ptr<float>();
  const float* sp = sin.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t s0 = x.stride(0), s1 = x.stride(1), s2 = x.stride(2);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hd = 0; hd < H; ++hd)
      for (int64_t t = 0; t < T; ++t) {
        const float* x1 = xp + b * s0 + hd * s1 + t * s2;
        const float* x2 = x1 + h2;
        const float* c = cp + (b * T + t) * h2;
        const float* s = sp + (b * T + t) * h2;
        float* o = op + ((b * H + hd) * T + t) * D;
        for (int64_t i = 0; i < h2; ++i) {
          const float a = x1[i] * c[i], bb = x2[i] * s[i], cc = x2[i] * c[i], dd = x1[i] * s[i];
          o[i] = a - bb;
          o[h2 + i] = cc + dd;
        }
      }
  return out;
}

// HF convention: dimension i pairs with i + head_dim/2.
torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  if (torch::Tensor r = rope_fp32(x, cos, sin); r.defined()) return r;
  const int64_t h = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, h), x2 = x.narrow(-1, h, h);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

}  // namespace

torch::Tensor Model::attention(const Layer& L, int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                               const torch::Tensor& sin, const torch::Tensor& mask, KVCache* cache,
                               const torch::Tensor& row_of) {
  const int64_t B = h.size(0), T = h.size(1), D = cfg_.head_dim, Hl = heads_local_, KVl = kv_heads_local_;
  torch::Tensor hc = tp_copy_to(h, comm_);
  torch::Tensor q, k, v;
  if (L.qkv_weight.defined() && !L.q->adapter && !L.k->adapter && !L.v->adapter) {
    torch::Tensor qkv = rows_times_weight(hc.reshape({-1, hc.size(-1)}), L.qkv_weight, L.qkv_bias);
    // q and k are adjacent columns: rotated together, one pass instead of two
    torch::Tensor qk = rope(qkv.narrow(1, 0, (Hl + KVl) * D).view({B, T, Hl + KVl, D}).transpose(1, 2), cos, sin);
    q = qk.narrow(1, 0, Hl);
    k = qk.narrow(1, Hl, KVl);
    v = qkv.narrow(1, (Hl + KVl) * D, KVl * D).view({B, T, KVl, D}).transpose(1, 2);
  } else {
    q = apply_linear(*L.q, hc, row_of);
    k = apply_linear(*L.k, hc, row_of);
    v = apply_linear(*L.v, hc, row_of);
    q = rope(q.reshape({B, T, Hl, D}).transpose(1, 2), cos, sin);
    k = rope(k.reshape({B, T, KVl, D}).transpose(1, 2), cos, sin);
    v = v.reshape({B, T, KVl, D}).transpose(1, 2);
  }
  torch::Tensor K = k, V = v;
  if (cache) std::tie(K, V) = cache->append(layer, k, v);
  const int64_t S = K.size(2), G = Hl / KVl;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  torch::Tensor out;
  bool done = false;
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernels (flash / memory-efficient on GPU) for prefill and for heads that are not grouped;
  // a grouped decode step takes the stacked form below, so K/V are never repeated per query head.
  // mask [B,1,1,T,S] -> [B,1,T,S], true = attend.
  if (G == 1 || T > 1) {
    torch::Tensor Kr = G > 1 ? K.repeat_interleave(G, 1) : K;
    torch::Tensor Vr = G > 1 ? V.repeat_interleave(G, 1) : V;
    out = at::scaled_dot_product_attention(q, Kr, Vr, mask.squeeze(1), 0.0, false);
    done = true;
  }
#endif
  if (!done && T == 1 && cache) {
    // a decode step on the CPU in fp32: straight from the cache, one task per (sequence, kv head)
    out = decode_attention(q, K, V, mask, scale, done);
    if (done) return apply_linear(*L.o, out, row_of);
  }
  if (!done) {
    // Grouped-query attention without copying K/V per head: the G query heads sharing one KV head are
    // stacked along the query axis, [B, KVl, G*T, D] x [B, KVl, D, S].
    torch::Tensor qg = q.reshape({B, KVl, G * T, D});
    torch::Tensor s = torch::matmul(qg, K.transpose(-1, -2)).mul_(scale).view({B, KVl, G, T, S});
    s = s.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
    torch::Tensor p = s.scalar_type() == torch::kFloat ? torch::softmax(s, -1)
                                                       : torch::softmax(s.to(torch::kFloat), -1).to(dtype_);
    out = torch::matmul(p.view({B, KVl, G * T, S}), V).view({B, Hl, T, D});
  }
  out = out.transpose(1, 2).reshape({B, T, Hl * D});
  return apply_linear(*L.o, out, row_of);
}

torch::Tensor Model::forward_hidden(const ForwardInput& in) {
  const int64_t B = in.ids.size(0), T = in.ids.size(1);
  KVCache* cache = in.cache;
  const int64_t past = cache ? cache->length() : 0, S = past + T;
  torch::Tensor ids = in.ids.to(device_, torch::kLong);
  torch::Tensor valid = in.valid.defined() ? in.valid.to(device_, torch::kBool)
                                           : torch::ones({B, T}, torch::TensorOptions().dtype(torch::kBool).device(device_));
  torch::Tensor key_valid;
  if (cache) {
    cache->valid().narrow(1, past, T).copy_(valid);
    key_valid = cache->valid().narrow(1, 0, S);
  } else {
    key_valid = valid;
  }
  // mask [B, 1, 1, T, S]: key j visible to query i when it is a real token and j <= past + i; the
  // diagonal is always visible so that padding rows stay finite.
  auto lopt = torch::TensorOptions().dtype(torch::kLong).device(device_);
  torch::Tensor qpos = torch::arange(past, S, lopt).unsqueeze(1), kpos = torch::arange(0, S, lopt).unsqueeze(0);
  torch::Tensor causal = kpos <= qpos, diag = kpos == qpos;
  torch::Tensor mask = (key_valid.unsqueeze(1) & causal.unsqueeze(0)) | diag.unsqueeze(0);
  mask = mask.view({B, 1, 1, T, S});

  torch::Tensor ang = in.positions.to(device_, torch::kDouble).unsqueeze(-1) * rope_inv_freq_;  // [B,T,D/2]
  torch::Tensor cos = ang.cos().to(dtype_).unsqueeze(1), sin = ang.sin().to(dtype_).unsqueeze(1);
  torch::Tensor seq = in.seq.defined() ? in.seq.to(device_, torch::kLong) : torch::arange(B, lopt);
  torch::Tensor row_of = seq.repeat_interleave(T);

  torch::Tensor x = embed(ids);
  // Per-layer recomputation (set_layer_recompute): only a forward with autograd and without a cache
  // (scoring for a gradient) keeps just each layer's input and reruns the layer in backward.
  const bool recompute = recompute_ && cache == nullptr && torch::GradMode::is_enabled() &&
                         recompute_params_.defined() && recompute_params_.requires_grad();
  for (size_t li = 0; li < layers_.size(); ++li) {
    if (recompute)
      x = LayerRecomputeFn::apply(x, recompute_params_, reinterpret_cast<int64_t>(this), static_cast<int64_t>(li), cos,
                                  sin, mask, row_of);
    else
      x = layer_forward(static_cast<int64_t>(li), x, cos, sin, mask, cache, row_of);
  }
  if (cache) cache->advance(T);
  return rms_norm(x, final_norm_);
}

torch::Tensor Model::layer_forward(int64_t li, const torch::Tensor& x_in, const torch::Tensor& cos,
                                   const torch::Tensor& sin, const torch::Tensor& mask, KVCache* cache,
                                   const torch::Tensor& row_of) {
  const Layer& L = layers_[static_cast<size_t>(li)];
  const int64_t B = x_in.size(0), T = x_in.size(1);
  // Outside autograd the residual sums and the SwiGLU product go into the fresh outputs of the
  // products in place (a + b == b + a exactly): no new buffer per element-wise op.
  const bool inplace = !torch::GradMode::is_enabled();
  torch::Tensor a = attention(L, li, rms_norm(x_in, L.input_norm), cos, sin, mask, cache, row_of);
  torch::Tensor x = inplace && a.sizes() == x_in.sizes() && a.scalar_type() == x_in.scalar_type() ? a.add_(x_in)
                                                                                                 : x_in + a;
  torch::Tensor h = tp_copy_to(rms_norm(x, L.post_norm), comm_);
  torch::Tensor m;
  if (L.gate_up_weight.defined() && !L.gate->adapter && !L.up->adapter) {
    torch::Tensor gu = rows_times_weight(h.reshape({-1, h.size(-1)}), L.gate_up_weight, {});
    torch::Tensor g = torch::silu(gu.narrow(1, 0, inter_local_)), u = gu.narrow(1, inter_local_, inter_local_);
    m = (inplace ? g.mul_(u) : g * u).view({B, T, inter_local_});
  } else {
    torch::Tensor g = torch::silu(apply_linear(*L.gate, h, row_of)), u = apply_linear(*L.up, h, row_of);
    m = inplace ? g.mul_(u) : g * u;
  }
  torch::Tensor d = apply_linear(*L.down, m, row_of);
  return inplace && d.sizes() == x.sizes() && d.scalar_type() == x.scalar_type() ? d.add_(x) : x + d;
}

void Model::set_layer_recompute(bool on, torch::Tensor params) {
  recompute_ = on;
  recompute_params_ = on ? std::move(params) : torch::Tensor();
}

// One decoder layer as a checkpoint: the forward runs without autograd and keeps only the layer's
// input; the backward reruns the layer with autograd (the same operations, so the same values) and
// differentiates it to the input and to the adapters' trainable tensor `params` (z on the device, of
// which every adapter's z is a view).
torch::Tensor LayerRecomputeFn::forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor params,
                                        int64_t model, int64_t layer, torch::Tensor cos, torch::Tensor sin,
                                        torch::Tensor mask, torch::Tensor row_of) {
  torch::Tensor y;
  {
    torch::NoGradGuard ng;
    y = reinterpret_cast<Model*>(model)->layer_forward(layer, x, cos, sin, mask, nullptr, row_of);
  }
  ctx->save_for_backward({x, params, cos, sin, mask, row_of});
  ctx->saved_data["model"] = model;
  ctx->saved_data["layer"] = layer;
  return y;
}

torch::autograd::tensor_list LayerRecomputeFn::backward(torch::autograd::AutogradContext* ctx,
                                                        torch::autograd::tensor_list grads) {
  auto s = ctx->get_saved_variables();
  Model* model = reinterpret_cast<Model*>(ctx->saved_data["model"].toInt());
  const int64_t layer = ctx->saved_data["layer"].toInt();
  torch::Tensor x = s[0].detach().requires_grad_(ctx->needs_input_grad(0));
  torch::Tensor params = s[1];
  torch::Tensor y;
  {
    torch::AutoGradMode on(true);
    y = model->layer_forward(layer, x, s[2], s[3], s[4], nullptr, s[5]);
  }
  std::vector<torch::Tensor> inputs;
  if (ctx->needs_input_grad(0)) inputs.push_back(x);
  if (ctx->needs_input_grad(1)) inputs.push_back(params);
  torch::Tensor gx, gp;
  if (!inputs.empty()) {
    auto g = torch::autograd::grad({y}, inputs, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                   /*allow_unused=*/true);
    size_t at = 0;
    if (ctx->needs_input_grad(0)) gx = g[at++];
    if (ctx->needs_input_grad(1)) gp = g[at++];
  }
  return {gx, gp, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
}

torch::Tensor Model::logits(const torch::Tensor& hidden) {
  torch::Tensor h = vocab_sharded_ ? tp_copy_to(hidden, comm_) : hidden;
  torch::Tensor y = h.dim() == 2 ? rows_times_weight(h, lm_head_, {}) : torch::matmul(h, lm_head_.t());
  return vocab_sharded_ ? tp_gather_from(y, comm_) : y;
}

torch::Tensor Model::forward_logits(const torch::Tensor& ids) {
  const int64_t B = ids.size(0), T = ids.size(1);
  ForwardInput in;
  in.ids = ids;
  in.positions = torch::arange(T, torch::kLong).unsqueeze(0).expand({B, T});
  return logits(forward_hidden(in));
}

torch::Tensor Model::completion_log_softmax(const std::vector<std::vector<int32_t>>& prompts,
                                            const std::vector<std::vector<int32_t>>& completions) {
  T2_CHECK_AS(UsageError, prompts.size() == completions.size(), "completion_log_softmax: {} prompts but {} completions",
              prompts.size(), completions.size());
  const int64_t B = static_cast<int64_t>(prompts.size()), V = cfg_.vocab_size;
  int64_t L = 0, T = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const auto& c = completions[static_cast<size_t>(b)];
    T2_CHECK_AS(UsageError, !p.empty(), "completion_log_softmax: prompt {} is empty", b);
    for (const auto* v : {&p, &c})
      for (int32_t id : *v)
        T2_CHECK_AS(UsageError, id >= 0 && id < V, "completion_log_softmax: sequence {}: token id {} outside [0, {})",
                    b, id, V);
    L = std::max<int64_t>(L, static_cast<int64_t>(p.size() + c.size()));
    T = std::max<int64_t>(T, static_cast<int64_t>(c.size()));
  }
  T2_CHECK_AS(UsageError, L <= cfg_.max_position_embeddings,
              "completion_log_softmax: a sequence of {} tokens exceeds the context of {}", L,
              cfg_.max_position_embeddings);
  auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  if (B == 0 || T == 0) return torch::zeros({B, T, V}, fopt);

  // Left-padded like score(): row b*L + pad + plen - 1 + t predicts completion token t.
  std::vector<int64_t> ids(static_cast<size_t>(B * L), 0), pos(static_cast<size_t>(B * L), 0),
      valid(static_cast<size_t>(B * L), 0), rows, dest;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int32_t> full = prompts[static_cast<size_t>(b)];
    const auto& c = completions[static_cast<size_t>(b)];
    const int64_t plen = static_cast<int64_t>(full.size());
    full.insert(full.end(), c.begin(), c.end());
    const int64_t pad = L - static_cast<int64_t>(full.size());
    for (size_t j = 0; j < full.size(); ++j) {
      size_t at = static_cast<size_t>(b * L + pad) + j;
      ids[at] = full[j];
      pos[at] = static_cast<int64_t>(j);
      valid[at] = 1;
    }
    for (int64_t t = 0; t < static_cast<int64_t>(c.size()); ++t) {
      rows.push_back(b * L + pad + plen - 1 + t);
      dest.push_back(b * T + t);
    }
  }
  ForwardInput in;
  in.ids = torch::tensor(ids, torch::kLong).view({B, L});
  in.positions = torch::tensor(pos, torch::kLong).view({B, L});
  in.valid = torch::tensor(valid, torch::kLong).view({B, L}).to(torch::kBool);
  in.seq = torch::arange(B, torch::kLong);
  torch::Tensor h = forward_hidden(in).reshape({B * L, cfg_.hidden_size});
  torch::Tensor row_idx = torch::tensor(rows, torch::kLong).to(device_);
  torch::Tensor dest_idx = torch::tensor(dest, torch::kLong).to(device_);
  // Blocks of rows (workers/memory-sizing.h): one block of fp32 logits exists at a time, and each
  // block's log-softmax goes straight into the result (no second [rows, vocab] copy).
  torch::Tensor out = torch::zeros({B * T, V}, fopt);
  const int64_t R = static_cast<int64_t>(rows.size()), chunk = logprob_chunk_rows(V);
  for (int64_t at = 0; at < R; at += chunk) {
    const int64_t n = std::min(chunk, R - at);
    torch::Tensor lg = logits(h.index_select(0, row_idx.narrow(0, at, n)));
    out.index_copy_(0, dest_idx.narrow(0, at, n), torch::log_softmax(lg.to(torch::kFloat), -1));
  }
  return out.view({B, T, V});
}

}  // namespace t2
