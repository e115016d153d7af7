// One decode step of attention (one query position per sequence) read straight from the KV cache,
// for fp32 on the CPU. LibTorch 1.13's CPU bmm multiplies a batch of small matrices one `select` +
// gemm call at a time, i.e. 2 x batch x kv_heads library calls per layer and step, which cost more
// than the arithmetic at batch 16 and dominate CEM's batches of hundreds of rows. Here every
// (sequence, kv head) is one task: scores q·k over the cache slots, masked softmax, weighted sum of
// v, with no temporaries and no copy of K/V. INTERNAL to workers/ (torch).
#pragma once

#include <torch/torch.h>

namespace t2 {

// q [B, H, 1, D] (H = G * KVH query heads, head h reads kv head h / G), K and V [B, KVH, S, D] with
// unit stride along D (views of the cache), visible [B, S] bool (slot s attends). Returns the
// attention output [B, 1, H * D]. `ok` is false (and nothing is computed) when the operands are not
// fp32 CPU tensors of that layout or autograd needs them; the caller then takes the general path.
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& K, const torch::Tensor& V,
                               const torch::Tensor& visible, double scale, bool& ok);

}  // namespace t2
