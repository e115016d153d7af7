// The LoRA and DoRA linear layers: LinearAdapters (workers/linear-adapter.h) beside the SVF one,
// computing PEFT's LoRA / DoRA forward on the layer's frozen weight W [out, in]:
//
//   LoRA:  y = x Wᵀ + s · (drop(x) Aᵀ) Bᵀ,                       s = lora_alpha / r
//   DoRA:  y = x Wᵀ + (g − 1) ⊙ (drop(x) Wᵀ) + g ⊙ s · (drop(x) Aᵀ) Bᵀ,   g = m / ‖W + s·B A‖_row
//
// with A [r, in], B [out, r], the magnitude m [out] (DoRA only, initialised to ‖W‖_row) and the
// row norm ‖·‖_row over the input dimension, DETACHED (as PEFT and the DoRA paper do: it is a
// constant for the gradient). Without dropout (evaluation) both equal x W'ᵀ with the dense merge
//   LoRA: W' = W + s·B A           DoRA: W' = m ⊙ (W + s·B A) / ‖W + s·B A‖_row.
//
// Tensor parallelism (Megatron, like svf_shard): a column-parallel layer (out sharded) holds B's and
// m's rows of this rank and all of A; a row-parallel layer (in sharded) holds A's columns of this rank
// and all of B and m. The local product is linear in this rank's partial, so the layer's all-reduce
// gives the full result; DoRA's row norm over a sharded input is all-reduced (squared) over the TP
// communicator. Gradients of the replicated factors (A column-parallel; B and m row-parallel) are
// partial sums: the TP group sums them (lora_replicated_params), as it sums SVF's z.
//
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "cluster/communicator.h"
#include "workers/linear-adapter.h"

namespace t2 {

struct LoraFactors {
  torch::Tensor A;          // [r, in]   (PEFT lora_A.weight)
  torch::Tensor B;          // [out, r]  (PEFT lora_B.weight)
  torch::Tensor magnitude;  // [out] DoRA's m (PEFT lora_magnitude_vector); undefined for plain LoRA
  double scaling = 2.0;     // lora_alpha / r
  int64_t rank() const { return A.size(0); }
  bool dora() const { return magnitude.defined(); }
};

// PEFT's initialisation: A Kaiming-uniform (a = √5, i.e. U(±1/√in)), B zero, so W' = W at step 0;
// DoRA's m = ‖W‖_row of the FULL weight. Deterministic given `seed`. fp32.
LoraFactors lora_init(int64_t out, int64_t in, int64_t r, double alpha, uint64_t seed);
torch::Tensor dora_magnitude_init(const torch::Tensor& full_weight);

// This rank's shard of full factors for a layer with the given layout (see the header comment).
LoraFactors lora_shard(const LoraFactors& full, const LinearInfo& info);

// The dense merge W' of the FULL factors and the full weight (the reference the tests compare with).
torch::Tensor lora_merge(const torch::Tensor& W, const LoraFactors& f);

class LoraLinearAdapter : public LinearAdapter {
 public:
  // `f` is this rank's shard (lora_shard); `comm` the TP group (null: TP 1), used for DoRA's norm.
  LoraLinearAdapter(LoraFactors f, LinearInfo info, Communicator* comm = nullptr)
      : f_(std::move(f)), info_(std::move(info)), comm_(comm) {}

  // Dropout p on the adapter's input while training (PEFT's lora_dropout); off by default.
  void set_dropout(double p, bool training) {
    dropout_ = p;
    training_ = training;
  }
  void set_training(bool training) { training_ = training; }
  // Makes A, B (and m) leaves that require grad.
  void set_trainable(bool on);

  LoraFactors& factors() { return f_; }
  const LoraFactors& factors() const { return f_; }
  const LinearInfo& info() const { return info_; }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) override;

 private:
  LoraFactors f_;
  LinearInfo info_;
  Communicator* comm_ = nullptr;
  double dropout_ = 0;
  bool training_ = false;
};

// The factors whose gradient is a partial sum over the TP group for this layout (to be all-reduced).
std::vector<torch::Tensor> lora_replicated_params(const LoraFactors& f, LinearKind kind);

}  // namespace t2
