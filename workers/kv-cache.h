// Key/value cache of one batch: per layer K and V of shape [B, kv_heads_local, capacity, head_dim],
// preallocated once (no growth by concatenation). Sequences are LEFT-padded: every sequence writes
// its next token at the same slot `length()`, and `valid` marks the slots that hold real tokens, so
// padding is masked out of attention. INTERNAL to workers/ (torch).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace t2 {

class KVCache {
 public:
  KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
          torch::Dtype dtype, torch::Device device);

  int64_t batch() const { return valid_.size(0); }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }   // slots filled so far (same for every sequence)

  // Writes K/V of `t` new tokens ([B, kv_heads, t, head_dim]) of one layer at slots
  // [length, length + t) and returns views of all filled slots [B, kv_heads, length + t, head_dim].
  // `advance(t)` moves `length` once all layers have written.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  void advance(int64_t t);

  // [B, capacity] bool: slot holds a real (non-padding) token. The caller marks slots when it writes.
  torch::Tensor& valid() { return valid_; }

  // Keeps only the batch rows `rows` (int64 indices), e.g. to drop finished sequences.
  void select_rows(const torch::Tensor& rows);

 private:
  int64_t capacity_;
  int64_t length_ = 0;
  std::vector<torch::Tensor> k_, v_;
  torch::Tensor valid_;
};

}  // namespace t2
