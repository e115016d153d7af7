#include "workers/kv-cache.h"

#include "core/check.h"

namespace t2 {

KVCache::KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
                 torch::Dtype dtype, torch::Device device)
    : layers_(layers), kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype), device_(device) {
  reset(batch, capacity);
}

bool KVCache::matches(int64_t layers, int64_t kv_heads, int64_t head_dim, torch::Dtype dtype,
                      torch::Device device) const {
  return layers == layers_ && kv_heads == kv_heads_ && head_dim == head_dim_ && dtype == dtype_ && device == device_;
}

void KVCache::reset(int64_t batch, int64_t capacity) {
  const int64_t need = batch * kv_heads_ * capacity * head_dim_;
  if (need > storage_ || batch * capacity > valid_store_.numel()) {
    auto opt = torch::TensorOptions().dtype(dtype_).device(device_);
    k_store_.clear();
    v_store_.clear();
    for (int64_t l = 0; l < layers_; ++l) {
      k_store_.push_back(torch::empty({need}, opt));
      v_store_.push_back(torch::empty({need}, opt));
    }
    storage_ = need;
    valid_store_ = torch::empty({batch * capacity}, torch::TensorOptions().dtype(torch::kBool).device(device_));
  }
  batch_ = batch;
  capacity_ = capacity;
  length_ = 0;
  shape_views();
  valid_.zero_();
}

void KVCache::shape_views() {
  k_.clear();
  v_.clear();
  const int64_t n = batch_ * kv_heads_ * capacity_ * head_dim_;
  for (int64_t l = 0; l < layers_; ++l) {
    k_.push_back(k_store_[static_cast<size_t>(l)].narrow(0, 0, n).view({batch_, kv_heads_, capacity_, head_dim_}));
    v_.push_back(v_store_[static_cast<size_t>(l)].narrow(0, 0, n).view({batch_, kv_heads_, capacity_, head_dim_}));
  }
  valid_ = valid_store_.narrow(0, 0, batch_ * capacity_).view({batch_, capacity_});
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t t = k.size(2);
  T2_CHECK(length_ + t <= capacity_, "KV cache full: {} + {} tokens exceed the capacity {}", length_, t, capacity_);
  auto& K = k_[static_cast<size_t>(layer)];
  auto& V = v_[static_cast<size_t>(layer)];
  K.narrow(2, length_, t).copy_(k);
  V.narrow(2, length_, t).copy_(v);
  return {K.narrow(2, 0, length_ + t), V.narrow(2, 0, length_ + t)};
}

void KVCache::advance(int64_t t) { length_ += t; }

void KVCache::keep_rows(const std::vector<int64_t>& keep) {
  const int64_t n = static_cast<int64_t>(keep.size());
  T2_CHECK(n <= batch_, "keep_rows: {} rows kept of {}", n, batch_);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t from = keep[static_cast<size_t>(i)];
    T2_CHECK(from == i || (from >= n && from < batch_), "keep_rows: row {} cannot take row {} in place", i, from);
    if (from == i) continue;
    for (int64_t l = 0; l < layers_; ++l) {
      for (auto* kv : {&k_, &v_}) {
        torch::Tensor& t = (*kv)[static_cast<size_t>(l)];
        t.select(0, i).narrow(1, 0, length_).copy_(t.select(0, from).narrow(1, 0, length_));
      }
    }
    valid_.select(0, i).copy_(valid_.select(0, from));
  }
  // the rows keep their [kv_heads, capacity, head_dim] layout, so a smaller batch is a prefix view
  batch_ = n;
  for (int64_t l = 0; l < layers_; ++l) {
    k_[static_cast<size_t>(l)] = k_[static_cast<size_t>(l)].narrow(0, 0, n);
    v_[static_cast<size_t>(l)] = v_[static_cast<size_t>(l)].narrow(0, 0, n);
  }
  valid_ = valid_.narrow(0, 0, n);
}

std::vector<int64_t> KVCache::compaction_order(const std::vector<int64_t>& alive) {
  const int64_t n = static_cast<int64_t>(alive.size());
  std::vector<int64_t> keep(alive.size(), -1), movers;
  for (int64_t r : alive) {
    if (r < n)
      keep[static_cast<size_t>(r)] = r;
    else
      movers.push_back(r);
  }
  size_t m = 0;
  for (auto& k : keep)
    if (k < 0) k = movers[m++];
  return keep;
}

}  // namespace t2
