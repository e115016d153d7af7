// The adaptation hook: how experts/ changes what a linear layer of the model computes, without
// touching the rest of the model and without base weights ever requiring grad.
//
// INTERNAL to workers/ and experts/ (includes torch; those folders compile with the shared torch PCH).
// Other folders use the torch-free public headers.
//
// A model exposes its linear layers by HF name (without ".weight"), e.g.
// "model.layers.3.mlp.gate_proj", with their tensor-parallel layout. Two ways to adapt one:
//   1. Dense replacement: Model::set_weight(name, W') swaps the local weight shard (composed W',
//      fp32 accumulation, rounded once to the serving dtype). Fast for serving one expert.
//   2. A LinearAdapter: the layer calls adapter->forward(...) instead of x·Wᵀ. experts/ uses it for
//      the factored SVF form y = U·(s_b ⊙ (Vᵀx)) with a per-sequence scale s_b (many experts in one
//      batch) and for a custom autograd function whose backward yields dL/dz = f(diag(Uᵀ G V))
//      without a dense weight gradient.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace t2 {

// Megatron's two kinds: column-parallel (output features sharded: q/k/v/gate/up) and row-parallel
// (input features sharded, outputs all-reduced: o/down). The SVF sharding rule follows: column-parallel
// layers shard U's rows, row-parallel layers shard V's rows; σ and z are replicated.
enum class LinearKind { column_parallel, row_parallel, replicated };

struct LinearInfo {
  std::string name;                // "model.layers.{i}.mlp.gate_proj" (HF name without ".weight")
  LinearKind kind = LinearKind::replicated;
  int64_t out_features = 0;        // global (unsharded) shape of W: [out_features, in_features]
  int64_t in_features = 0;
  int64_t out_local = 0;           // this rank's shard of W: [out_local, in_local]
  int64_t in_local = 0;
  int64_t out_offset = 0;          // where the shard starts in the global matrix
  int64_t in_offset = 0;
  int tp_rank = 0;
  int tp_size = 1;
};

class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  // x:      [N, in_local] activations (N = rows of the flattened batch, serving dtype or fp32)
  // base:   [out_local, in_local] the frozen local weight shard (never requires grad)
  // row_of: [N] int64, the batch index (sequence) each row of x belongs to, for per-sequence scales
  // Returns [N, out_local]: the layer's local product, BEFORE the row-parallel all-reduce and
  // WITHOUT bias (the layer adds both). May carry autograd history to the adapter's own parameters.
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base,
                                const torch::Tensor& row_of) = 0;
};

}  // namespace t2
