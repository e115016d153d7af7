// The runtime's transformer (workers/model.h) as a PolicyModel: SVF adapters (svf-linear.h) on every
// matrix that `t2 decompose` factored, so REINFORCE, CEM and dispatch run on a real model.
//
//   auto model  = Model::load(dir, {.tp_comm = comm});
//   TransformerPolicy pol(*model, dir + "/t2-svd");           // reads svd-tp<r>of<n>.h5 of this rank
//   pol.adapt_z(z);                 // [total] or [B, total]; z may require grad (training)
//   pol.adapt_multipliers(m);       // [total] or [B, total]; a mixture, many experts in one batch
//   pol.adapt_base();               // the plain model: adapters removed, the fused GEMMs run again
//
// Base state: right after construction and after adapt_base() no adapter is installed in the model,
// so it computes exactly what the plain model computes (bit for bit). adapt_z / adapt_multipliers
// install the adapters on every decomposed matrix; the destructor removes them.
//
// Generation runs Model::generate (batched prefill + KV cache) with the adapters installed; rows of a
// per-sequence adaptation [B, total] follow their prompt (row_of) as finished sequences leave the batch.
// Stop tokens: SampleOptions::stop_tokens plus the model config's eos ids (set_use_config_eos); the
// stop token is the last token of the returned completion.
//
// completion_log_softmax runs the batch in one forward without cache and returns [B, T, V] float32,
// differentiable to the z given to adapt_z (closed-form backward of svf-linear; no base weight ever
// gets a gradient).
//
// Tensor parallelism: every rank of a TP group builds its own TransformerPolicy over its Model (the
// shard file of its rank) and makes the same calls. Each rank's SVF layers only see their shard, so
// the local dL/dz is a partial sum; THE POLICY ALL-REDUCES IT: adapt_z passes z through tp_copy_to
// (identity forward, all-reduce of the gradient in backward, one all-reduce of `total` floats per
// backward). dL/dz — and so reinforce_shard_gradient's ShardGradient — is therefore the complete
// gradient of the TP group, identical on every rank of it. A caller sums ShardGradients over
// data-parallel shards only (one per TP group, e.g. from its rank 0), never over the ranks of a group.
//
// INTERNAL to experts/ and the coordinator's worker executor (torch).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "experts/policy-model.h"
#include "experts/svf-linear.h"
#include "workers/generation.h"

namespace t2 {

class Model;

// One TP rank's shard of the factors written by decompose_model (decompose.h).
struct SvdShard {
  std::string path;
  std::string source_hash;
  std::string modules;              // mlp | attn | all
  int tp_rank = 0, tp_size = 1;
  std::vector<std::string> names;   // HF names without ".weight", model order
  std::vector<SvfFactors> factors;  // this rank's shard: U [out_local, k], S [k], V [in_local, k]
  std::vector<int64_t> rows, cols;  // global shape of each matrix
};

// Reads svd_shard_path(dir, tp_rank, tp_size) onto `device`. Factors keep the file's dtype, except
// that U and V take the `serving` dtype when it is 16-bit (bf16/fp16 models: svf-compose.h).
// FormatError naming the file and the object when it is not a t2-svd file; UsageError when
// `expect_hash` is non-empty and differs from the file's source hash, or the file is of another shard.
SvdShard svd_shard_read(const std::string& svd_dir, int tp_rank, int tp_size, torch::Device device,
                        const std::string& expect_hash = "", torch::Dtype serving = torch::kFloat);

class TransformerPolicy : public PolicyModel {
 public:
  // Loads this rank's shard (svd_shard_path(svd_dir, model.tp_rank(), model.tp_size())), checks
  // it against the model (every name a linear layer, shard shapes match the layer's local shape) and
  // against `expect_hash` when given, and creates one SvfLinearAdapter per decomposed matrix.
  TransformerPolicy(Model& model, const std::string& svd_dir, const std::string& expect_hash = "");
  ~TransformerPolicy() override;
  TransformerPolicy(const TransformerPolicy&) = delete;
  TransformerPolicy& operator=(const TransformerPolicy&) = delete;

  ZLayout layout() const override;            // names in model order, sizes = rank of each matrix
  int64_t vocab_size() const override;
  const std::string& source_hash() const { return shard_.source_hash; }
  const SvdShard& shard() const { return shard_; }
  Model& model() { return model_; }

  // --- PolicyModel ---
  void adapt_z(const torch::Tensor& z) override;            // [total] or [B, total]
  void adapt_multipliers(const torch::Tensor& m) override;  // [total] or [B, total]
  void adapt_base() override;
  std::vector<TokenSeq> generate(const std::vector<TokenSeq>& prompts, const SampleOptions& opt,
                                 uint64_t seed) override;
  torch::Tensor completion_log_softmax(const std::vector<TokenSeq>& prompts,
                                       const std::vector<TokenSeq>& completions) override;

  // --- serving conveniences (no gradient) ---
  // One expert: multipliers sigmoid(z) for every sequence.
  void adapt_expert(const std::vector<float>& z);
  // Given multipliers (e.g. mixture_multipliers), flat over layout().
  void adapt_multipliers(const std::vector<float>& m);
  // Sequence b of the next calls uses expert z_per_sequence[b] (many experts in one batch).
  void adapt_experts(const std::vector<std::vector<float>>& z_per_sequence);
  // Sequence b uses the multipliers m_per_sequence[b].
  void adapt_multipliers_per_sequence(const std::vector<std::vector<float>>& m_per_sequence);

  // Per-layer recomputation when scoring under adapt_z with autograd (Model::set_layer_recompute):
  // activations of one layer at a time, one more forward per backward. Off by default.
  void set_layer_recompute(bool on) { recompute_ = on; }

  // Whether generate() also stops at the config's eos ids (default true).
  void set_use_config_eos(bool on) { use_config_eos_ = on; }

  // Model::generate under the current adaptation: ids, text (with a detokenizer), log-probs, stop reason.
  std::vector<Generation> generate_full(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opt,
                                        const Detokenizer& detok = nullptr);

 private:
  void install();
  torch::Tensor checked(const torch::Tensor& t, const char* what) const;

  Model& model_;
  SvdShard shard_;
  ZLayout layout_;
  std::vector<std::shared_ptr<SvfLinearAdapter>> adapters_;
  bool installed_ = false;
  bool use_config_eos_ = true;
  bool recompute_ = false;
};

}  // namespace t2
