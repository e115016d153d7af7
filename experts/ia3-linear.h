// The IA3 linear layer: a LinearAdapter (workers/linear-adapter.h) that rescales a layer with one
// learned vector l, as PEFT's IA3 does:
//
//   attention-type module (k, v, ...):  y = (x Wᵀ) ⊙ l,   l [out]   (PEFT ia3_l shape [out, 1])
//   feed-forward module (down_proj):     y = (x ⊙ l) Wᵀ,   l [in]    (PEFT ia3_l shape [1, in])
//
// initialised to ones (W' = W). Dense merge: W' = diag(l) W, resp. W diag(l).
// Tensor parallelism: an output scale is sharded with the output rows of a column-parallel layer and
// replicated on a row-parallel one (the scale commutes with the all-reduce); an input scale is
// sharded with the input columns of a row-parallel layer and replicated on a column-parallel one.
// A replicated l's gradient is a partial sum over the TP group (ia3_replicated).
//
// PEFT also scales a biased layer's bias for output-type modules; t2's layer adds the bias after the
// adapter, so t2 refuses IA3 output scaling on a layer with a bias (attach time, experts/peft-file).
//
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include "workers/linear-adapter.h"

namespace t2 {

struct Ia3Vector {
  torch::Tensor l;           // [out] (output scale) or [in] (feed-forward: input scale), full or this rank's shard
  bool feedforward = false;  // true: scales the input
};

Ia3Vector ia3_init(int64_t out, int64_t in, bool feedforward);
Ia3Vector ia3_shard(const Ia3Vector& full, const LinearInfo& info);
torch::Tensor ia3_merge(const torch::Tensor& W, const Ia3Vector& v);  // full W, full l (float64)
// Whether this layout makes l a partial-gradient (replicated) parameter.
bool ia3_replicated(const Ia3Vector& v, LinearKind kind);

class Ia3LinearAdapter : public LinearAdapter {
 public:
  Ia3LinearAdapter(Ia3Vector v, LinearInfo info) : v_(std::move(v)), info_(std::move(info)) {}
  void set_trainable(bool on) { v_.l = v_.l.detach().requires_grad_(on); }
  Ia3Vector& vector() { return v_; }
  const Ia3Vector& vector() const { return v_; }
  const LinearInfo& info() const { return info_; }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) override;

 private:
  Ia3Vector v_;
  LinearInfo info_;
};

}  // namespace t2
