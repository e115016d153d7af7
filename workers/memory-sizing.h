// Sizing decisions that the runtime makes and the memory planner (`t2 plan`,
// coordinator/memory-plan.h) predicts, in one place so that the two cannot drift apart.
// Torch-free header (fused_attention_built is defined in the torch library t2_workers).
#pragma once

#include <algorithm>
#include <cstdint>

namespace t2 {

// Log-probs over the vocabulary are computed in blocks of rows: at most this many bytes of fp32
// [rows, vocab] logits (and their log-softmax) exist per block, whatever the number of rows scored.
inline constexpr int64_t kLogprobChunkBytes = int64_t{64} << 20;

// Rows of one block for a vocabulary of `vocab` entries (at least 1).
inline int64_t logprob_chunk_rows(int64_t vocab) {
  return std::max<int64_t>(1, kLogprobChunkBytes / (std::max<int64_t>(vocab, 1) * 4));
}

// Whether this build's attention runs fused kernels for prefill and scoring (LibTorch 2:
// scaled_dot_product_attention), or materialises fp32 [heads, tokens, tokens] scores (LibTorch 1.x).
bool fused_attention_built();

}  // namespace t2
