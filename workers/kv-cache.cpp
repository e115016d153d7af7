#include "workers/kv-cache.h"

#include "core/check.h"

namespace t2 {

KVCache::KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
                 torch::Dtype dtype, torch::Device device)
    : capacity_(capacity) {
  auto opt = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < layers; ++l) {
    k_.push_back(torch::empty({batch, kv_heads, capacity, head_dim}, opt));
    v_.push_back(torch::empty({batch, kv_heads, capacity, head_dim}, opt));
  }
  valid_ = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(device));
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

void KVCache::select_rows(const torch::Tensor& rows) {
  for (auto& k : k_) k = k.index_select(0, rows);
  for (auto& v : v_) v = v.index_select(0, rows);
  valid_ = valid_.index_select(0, rows);
}

}  // namespace t2
