// Training a PEFT adapter (LoRA, DoRA, IA3) on the runtime's transformer, the baselines of the paper:
//
//   objective next_token       (the paper's LoRA): mean negative log-likelihood of the solution
//                              tokens given the prompt, over all solution tokens of the batch;
//   objective policy_gradient  (Table 4 row 5): −Σ_b A_b · mean_t log π(y_b,t | …) / B with the
//                              caller's advantages A_b (rewards of sampled completions minus a baseline).
//
// A step is split into shards (worker groups): grad() returns one shard's loss and flat gradient,
// normalised by the WHOLE batch's count so the shards' gradients add up to the batch gradient; apply()
// takes the summed gradient through the same optimizer as SVF (experts/optimizer.h: Adam/AdamW,
// global-norm clipping, plain float loops), so a step is a pure function of (state, gradient) and
// state_bytes()/load_state() give a bit-identical resume. Dropout is seeded by (seed, step, shard).
// Under tensor parallelism the gradients of replicated factors are summed over the TP group here.
//
// INTERNAL to experts/ (torch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experts/optimizer.h"
#include "experts/peft-adapter.h"

namespace t2 {

class Model;

enum class PeftObjective { next_token, policy_gradient };
PeftObjective parse_peft_objective(const std::string& s);  // "next_token" | "policy_gradient"; UsageError else

struct PeftExample {
  std::vector<int32_t> prompt;
  std::vector<int32_t> target;  // the solution (next_token) or a sampled completion (policy_gradient)
  double advantage = 1.0;       // policy_gradient only
};

struct PeftShardGrad {
  double loss = 0;              // this shard's part of the batch loss
  std::vector<float> grad;      // this shard's part of the batch gradient (flat, parameters() order)
};

class PeftTrainer {
 public:
  // Attaches `init` to `model` as trainable adapters (the model keeps them until the trainer dies).
  PeftTrainer(Model& model, PeftAdapter init, PeftObjective objective, OptimizerConfig opt, uint64_t seed);
  ~PeftTrainer();

  int64_t num_parameters() const;  // trainable values on this rank
  int64_t step() const { return state_.t; }

  // One shard of step step(): `batch_count` is the whole batch's normaliser (next_token: its solution
  // tokens; policy_gradient: its sequences).
  PeftShardGrad grad(const std::vector<PeftExample>& shard, int64_t batch_count, int shard_index = 0);
  static int64_t batch_count(const std::vector<PeftExample>& batch, PeftObjective objective);
  // Optimizer step with the batch gradient (sum of the shards'); returns the norm before clipping.
  OptimizerStepInfo apply(const std::vector<float>& grad);
  // grad() over the whole batch as one shard, then apply(); returns the batch loss before the step.
  double train_step(const std::vector<PeftExample>& batch);

  // Mean next-token NLL per target token, no grad, dropout off (validation / selection).
  double eval_loss(const std::vector<PeftExample>& examples);

  std::vector<float> flat_parameters() const;
  // Replaces the adapter's values and the step that seeds dropout: for a worker of a campaign, where
  // the coordinator holds the optimizer state and workers only compute shard gradients.
  void set_parameters(const std::vector<float>& flat, int64_t step);
  std::string state_bytes() const;   // parameters + optimizer state
  void load_state(const std::string& bytes);

  // The adapter as full (gathered) tensors, for write_peft.
  PeftAdapter adapter() const;

  // The same values unsharded, for a campaign's coordinator, which holds the full adapter and its
  // optimizer state whatever the model's TP: flat in parameters() order with every tensor full. Under
  // TP every rank of the group calls these together (they gather); at TP 1 they equal the local ones.
  int64_t num_full_parameters() const;
  std::vector<float> full_parameters() const;
  // This rank's shards of full values (the same layout as lora_shard / ia3_shard).
  void set_full_parameters(const std::vector<float>& full, int64_t step);
  // A grad() result (this rank's shards; replicated parts already summed over the group) made full.
  std::vector<float> full_grad(const std::vector<float>& local) const;

 private:
  void set_flat(const std::vector<float>& flat);
  Model& model_;
  PeftConfig config_;
  PeftAttached attached_;
  PeftObjective objective_;
  OptimizerConfig opt_;
  OptimizerState state_;
  uint64_t seed_;
};

}  // namespace t2
