// Pre-training of a small Llama-architecture model from scratch on CPU (the quickstart's default
// model, `t2 quickstart-init`). The network is the runtime's (workers/model.h): RMSNorm, rotary
// attention with grouped KV heads (HF rotate-half convention), SwiGLU MLP, untied LM head; the
// result is exactly the tensors Model::load reads, under their Hugging Face names.
//
//   PretrainResult r = tiny_pretrain(cfg, [&](int64_t step) { return batch_for(step); }, opt, log);
//   for (auto& t : r.weights) writer.add_f32(t.name, t.shape, t.values);
//
// Every weight is trained (plain autograd, AdamW with warm-up and cosine decay, gradient clipping);
// the loss is the next-token cross-entropy on each sequence's positions from `loss_from` on (the
// answer), averaged over those tokens. Sequences may start with a shared prefix (a task's system
// prompt): the prefix is computed once per batch and its keys and values are attended to by every
// sequence that names it, which is exactly the full sequence's computation at a fraction of the cost. Reproducible: with `threads` = 1 the same seed, batches and
// options give bit-identical weights on the same machine and build (train_seconds > 0 is not, as the
// step count then follows the wall clock). Torch-free header (the coordinator calls it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "workers/model-config.h"

namespace t2 {

struct PretrainSequence {
  int32_t prefix = -1;    // index into PretrainBatch::prefixes of the tokens before `ids` (-1: none)
  std::vector<int32_t> ids;
  int32_t loss_from = 1;  // tokens ids[loss_from..] are predicted (from the token before each), >= 1
};

struct PretrainBatch {
  std::vector<std::vector<int32_t>> prefixes;
  std::vector<PretrainSequence> sequences;
};

struct PretrainOptions {
  int64_t steps = 1000;        // optimizer steps (and the length of the learning-rate schedule)
  double train_seconds = 0;    // > 0: the schedule is sized after 10 steps to end after about this long
  double lr = 3e-3;
  double min_lr_ratio = 0.1;   // cosine decay to lr * min_lr_ratio
  int64_t warmup = 50;
  double weight_decay = 0.01;  // matrices only
  double beta1 = 0.9, beta2 = 0.98;
  double clip = 1.0;           // global gradient-norm clip (0: none)
  double init_std = 0.02;
  uint64_t seed = 0;           // initialisation
  int threads = 1;             // torch intra-op threads while training (1: reproducible)
  int64_t log_every = 50;
};

struct PretrainProgress {
  int64_t step = 0, steps = 0;
  double loss = 0;     // mean over the steps since the last report
  double lr = 0;
  double seconds = 0;  // since the start
};

struct NamedTensor {
  std::string name;  // HF name, e.g. "model.layers.0.mlp.gate_proj.weight"
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct PretrainResult {
  std::vector<NamedTensor> weights;  // embed, layers in order, norm, lm_head
  int64_t steps = 0;
  double seconds = 0;
  double final_loss = 0;
};

using PretrainBatchFn = std::function<PretrainBatch(int64_t step)>;
using PretrainProgressFn = std::function<void(const PretrainProgress&)>;

// Trains a model of shape `cfg` (LlamaForCausalLM fields: hidden_size, layers, heads, kv heads,
// head_dim, intermediate_size, vocab_size, rope_theta, rms_norm_eps; tie_word_embeddings false).
PretrainResult tiny_pretrain(const ModelConfig& cfg, const PretrainBatchFn& batch, const PretrainOptions& opt,
                             const PretrainProgressFn& progress = nullptr);

}  // namespace t2
