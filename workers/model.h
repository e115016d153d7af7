// The Llama-family decoder (Llama 2/3, Mistral, Qwen2) in LibTorch, tensor-parallel over a
// Communicator. INTERNAL to workers/ and experts/ (torch); other folders use workers/runtime.h.
//
// Layout of one rank's shard (Megatron): q/k/v/gate/up are column-parallel (output rows by head /
// by feature), o/down row-parallel (input columns, outputs all-reduced); the embedding and LM head
// are split over the vocabulary when the vocabulary divides by the TP size, else replicated.
//
// Batches are LEFT-padded: a batch of prompts of different lengths is right-aligned, position ids
// count from each sequence's first real token, and padding slots are masked out of attention, so
// every sequence writes its next token into the same KV-cache slot.
//
// Adaptation hook (workers/linear-adapter.h): set_weight() swaps a linear layer's local weight shard
// in place; set_adapter() makes the layer call the adapter instead of x·Wᵀ, with `row_of` giving the
// index (into the caller's prompt list) of the sequence each activation row belongs to. Base weights
// never require grad; score(..., grad=true) returns log-probs whose graph reaches only the adapters.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "workers/generation.h"
#include "workers/kv-cache.h"
#include "workers/linear-adapter.h"
#include "workers/model-config.h"
#include "workers/runtime.h"

namespace t2 {

class Checkpoint;
class Model;

// A decoder layer whose activations are recomputed in backward (Model::set_layer_recompute).
struct LayerRecomputeFn : public torch::autograd::Function<LayerRecomputeFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor params,
                               int64_t model, int64_t layer, torch::Tensor cos, torch::Tensor sin, torch::Tensor mask,
                               torch::Tensor row_of);
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads);
};

// One decode step's input: ids [B, T] (left-padded), position ids [B, T], `seq` [B] the caller's
// sequence index of each row (for adapters), and the cache to read and extend (nullptr: no cache,
// attention over this chunk only; then `valid` [B, T] marks real tokens).
struct ForwardInput {
  torch::Tensor ids;
  torch::Tensor positions;
  torch::Tensor seq;
  torch::Tensor valid;  // used when cache == nullptr
  KVCache* cache = nullptr;
};

class Model {
 public:
  static std::unique_ptr<Model> load(const std::string& model_dir, const LoadOptions& opt = {});
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }
  int tp_rank() const;
  int tp_size() const;
  Communicator* tp_comm() const { return comm_; }

  // --- the adaptation hook ---
  std::vector<LinearInfo> linear_infos() const;   // every layer's q,k,v,o,gate,up,down, in order
  const LinearInfo& linear_info(const std::string& name) const;
  void set_adapter(const std::string& name, std::shared_ptr<LinearAdapter> adapter);
  void clear_adapters();
  // Copies W' (this rank's shard, [out_local, in_local], any float dtype) into the layer's weight.
  void set_weight(const std::string& name, const torch::Tensor& w);
  torch::Tensor weight(const std::string& name) const;   // the live local shard (no grad)

  // --- compute ---
  // Hidden states after the final norm, [B, T, hidden]; extends in.cache when given.
  torch::Tensor forward_hidden(const ForwardInput& in);
  // Full-vocabulary logits (gathered over the TP group) of hidden states [..., hidden] -> [..., vocab].
  torch::Tensor logits(const torch::Tensor& hidden);
  // Convenience: logits [B, T, vocab] of a batch of equal-length sequences without cache.
  torch::Tensor forward_logits(const torch::Tensor& ids);

  // Per-token log-probs of continuations[b] after prompts[b]: one 1-D float32 tensor per sequence.
  // grad=false runs under no-grad; grad=true keeps the graph (through adapters only).
  std::vector<torch::Tensor> score(const std::vector<std::vector<int32_t>>& prompts,
                                   const std::vector<std::vector<int32_t>>& continuations, bool grad);

  // log π(· | prompt, completion[:t]) over the full vocabulary at every completion position, in one
  // forward without cache: [B, T, vocab] float32, T the longest completion, rows past a completion's
  // end are zero. Keeps the autograd graph when grad mode is on (it reaches the adapters only).
  torch::Tensor completion_log_softmax(const std::vector<std::vector<int32_t>>& prompts,
                                       const std::vector<std::vector<int32_t>>& completions);

  std::vector<Generation> generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opt,
                                   const Detokenizer& detok = nullptr);

  // Per-layer recomputation of scoring with autograd: when on, a forward with grad mode and no cache
  // keeps only each layer's input and reruns the layer in backward (LayerRecomputeFn), so activations
  // of one layer exist at a time. `params` is the tensor the adapters' trainable parameters are views
  // of (TransformerPolicy passes z on the device): gradients reach it through the recomputed layers.
  void set_layer_recompute(bool on, torch::Tensor params = {});
  bool layer_recompute() const { return recompute_; }

 private:
  friend struct LayerRecomputeFn;
  struct Linear {
    LinearInfo info;
    torch::Tensor weight;  // [out_local, in_local]
    torch::Tensor bias;    // [out_local] (column-parallel) or [out] (row-parallel, after the reduce)
    std::shared_ptr<LinearAdapter> adapter;
  };
  struct Layer {
    torch::Tensor input_norm, post_norm;
    // q|k|v and gate|up stacked in one matrix each (the Linear weights are views into them), so an
    // unadapted layer runs one GEMM instead of three / two. Undefined (not fused) when the weights are
    // served in place from the mapped checkpoint (CPU, checkpoint dtype), so that they are held once.
    torch::Tensor qkv_weight, qkv_bias, gate_up_weight;
    Linear* q; Linear* k; Linear* v; Linear* o; Linear* gate; Linear* up; Linear* down;
  };

  Model() = default;
  // The KV cache of a generate call, reused across calls (one spare kept; concurrent calls get their own).
  std::unique_ptr<KVCache> take_cache(int64_t batch, int64_t capacity);
  void give_back_cache(std::unique_ptr<KVCache> c);
  void load_weights(const std::shared_ptr<Checkpoint>& ck);
  Linear& find_linear(const std::string& name);
  const Linear& find_linear(const std::string& name) const;
  torch::Tensor apply_linear(const Linear& l, const torch::Tensor& x, const torch::Tensor& row_of);
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w) const;
  torch::Tensor attention(const Layer& L, int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& mask, KVCache* cache,
                          const torch::Tensor& row_of);
  torch::Tensor embed(const torch::Tensor& ids);
  // Decoder layer `li` on x [B, T, hidden] (extends `cache` when given).
  torch::Tensor layer_forward(int64_t li, const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                              const torch::Tensor& mask, KVCache* cache, const torch::Tensor& row_of);

  ModelConfig cfg_;
  torch::Device device_{torch::kCPU};
  torch::Dtype dtype_ = torch::kFloat;
  Communicator* comm_ = nullptr;
  int64_t heads_local_ = 0, kv_heads_local_ = 0, inter_local_ = 0;
  bool vocab_sharded_ = false;
  int64_t vocab_local_ = 0, vocab_offset_ = 0;
  std::vector<std::unique_ptr<Linear>> linears_;
  std::map<std::string, Linear*> by_name_;
  std::vector<Layer> layers_;
  torch::Tensor embed_, lm_head_, final_norm_;
  torch::Tensor rope_inv_freq_;   // [head_dim/2] float64 on the device
  std::mutex cache_mu_;
  std::unique_ptr<KVCache> spare_cache_;
  bool recompute_ = false;
  torch::Tensor recompute_params_;
};

}  // namespace t2
