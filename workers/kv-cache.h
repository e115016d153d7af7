// Key/value cache of one batch: per layer K and V of shape [B, kv_heads_local, capacity, head_dim],
// preallocated once (no growth by concatenation) and reusable across generate calls (`reset` keeps
// the storage when it is large enough). Sequences are LEFT-padded: every sequence writes its next
// token at the same slot `length()`, and `valid` marks the slots that hold real tokens, so padding is
// masked out of attention. INTERNAL to workers/ (torch).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace t2 {

class KVCache {
 public:
  KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
          torch::Dtype dtype, torch::Device device);

  // Empties the cache and shapes it for `batch` rows of `capacity` slots; reallocates only when the
  // storage is too small (or the dtype/device differ). Slots are not cleared: `valid` is.
  void reset(int64_t batch, int64_t capacity);
  bool matches(int64_t layers, int64_t kv_heads, int64_t head_dim, torch::Dtype dtype, torch::Device device) const;

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }   // slots filled so far (same for every sequence)
  int64_t storage_elements() const { return storage_; }  // per layer and per K or V

  // Writes K/V of `t` new tokens ([B, kv_heads, t, head_dim]) of one layer at slots
  // [length, length + t) and returns views of all filled slots [B, kv_heads, length + t, head_dim].
  // `advance(t)` moves `length` once all layers have written.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  void advance(int64_t t);

  // [B, capacity] bool view: slot holds a real (non-padding) token. The caller marks slots when it writes.
  torch::Tensor valid() const { return valid_; }

  // Keeps `keep.size()` rows, new row i being old row keep[i], in place: only the filled slots of the
  // rows that move are copied, nothing is allocated. Every keep[i] must be i or a row >= keep.size()
  // (a row is never read after it was overwritten); `compaction_order` builds such a list.
  void keep_rows(const std::vector<int64_t>& keep);

  // The rows to keep when the rows `alive` (ascending) continue: rows already in place stay, and each
  // hole below alive.size() takes one of the rows above it, so that at most one row moves per
  // finished sequence.
  static std::vector<int64_t> compaction_order(const std::vector<int64_t>& alive);

 private:
  void shape_views();

  int64_t layers_, kv_heads_, head_dim_;
  torch::Dtype dtype_;
  torch::Device device_;
  int64_t batch_ = 0, capacity_ = 0, length_ = 0, storage_ = 0;
  std::vector<torch::Tensor> k_store_, v_store_;  // flat per layer
  torch::Tensor valid_store_;
  std::vector<torch::Tensor> k_, v_;  // [batch, kv_heads, capacity, head_dim] views of the storage
  torch::Tensor valid_;
};

}  // namespace t2
