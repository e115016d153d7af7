// REINFORCE for SVF experts (METHOD.md §4) as a state value plus step functions, so the coordinator
// owns the algorithm (DESIGN decision 1) and workers stay stateless:
//
//   state = reinforce_init(layout, z0, train_size, config)
//   loop:  batch = reinforce_next_batch(state, config)            coordinator: which prompts, which seed
//          rollouts = reinforce_rollout(model, z, prompts, ...)    worker (reinforce-step.h)
//          rewards  = task reward per rollout                      worker / jobs
//          adv      = reinforce_advantages(rewards, groups, ...)  coordinator (needs the whole batch)
//          grads_i  = reinforce_shard_gradient(model, z, shard_i)  workers, one shard each
//          state    = reinforce_apply(state, config, Σ grads_i, rewards)
//          every eval_every steps: state = reinforce_record_validation(state, score)
//
// The loss of one batch is  Σ_j (−ℓ_j·A_j + λ·KL_j) / N  with ℓ_j = Σ_t log π(y_t) of sample j, A_j its
// reward minus the baseline and N the number of samples in the whole batch; shard gradients are sums,
// so any split of the batch gives the same update. The state serialises to bytes: stopping after step
// k and resuming from the bytes gives bit-identical z on CPU. Torch-free (public).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "experts/optimizer.h"
#include "experts/z-layout.h"

namespace t2 {

enum class Baseline { none, batch_mean, group_mean };
// kl(ref||policy): Σ_positions Σ_vocab π_ref (log π_ref − log π), the reference code's F.kl_div;
// kl(policy||ref): Σ_positions Σ_vocab π (log π − log π_ref), the paper's direction.
enum class KlDirection { ref_policy, policy_ref };

Baseline baseline_from_name(const std::string& name);        // none | batch_mean | group_mean
KlDirection kl_direction_from_name(const std::string& name);  // ref_policy | policy_ref
std::string baseline_name(Baseline b);
std::string kl_direction_name(KlDirection d);

struct ReinforceConfig {
  int64_t batch_size = 256;          // prompts per step (clipped to the training set size)
  int64_t samples_per_prompt = 1;    // k rollouts per prompt (a group for the group-mean baseline)
  double temperature = 0.0;          // 0 = greedy (the reference); > 0 samples
  double top_p = 1.0;
  int64_t max_new_tokens = 512;
  Baseline baseline = Baseline::none;
  double kl_coeff = 0.0;             // λ; 0 disables the KL term (and the reference forward)
  KlDirection kl_direction = KlDirection::ref_policy;
  OptimizerConfig optimizer;         // Adam lr 2e-3 clip 1e-3 (reference); optimizer_paper_defaults()
  int64_t steps = 200;
  int64_t eval_every = 10;           // validate after updates 1, 1+N, 1+2N, ... (the reference's
                                     // iterations 0, N, ...) and after the last one; never before an update
  uint64_t seed = 42;                // data order and rollout sampling
};

void reinforce_validate(const ReinforceConfig& c);

struct TrainingPoint {
  int64_t step = 0;
  double reward_mean = 0, reward_std = 0, loss = 0, kl = 0, grad_norm = 0, lr = 0;
  double validation = std::numeric_limits<double>::quiet_NaN();  // NaN when not validated at this step
};

struct ReinforceState {
  ZLayout layout;
  std::vector<float> z;
  OptimizerState opt;
  std::string rng;                    // Rng::save(): data order and rollout seeds
  int64_t train_size = 0;
  std::vector<int64_t> order;         // this epoch's permutation of the training indices
  int64_t cursor = 0;                 // next position in `order`
  int64_t epoch = 0;
  int64_t step = 0;                   // updates applied
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  std::vector<float> best_z;          // the best-on-validation expert
  std::vector<TrainingPoint> curve;
};

ReinforceState reinforce_init(const ZLayout& layout, std::vector<float> z0, int64_t train_size,
                              const ReinforceConfig& c);

struct ReinforceBatch {
  std::vector<int64_t> examples;      // training indices, min(batch_size, train_size) distinct ones
  uint64_t rollout_seed = 0;          // seed of this step's sampled rollouts
};

// Draws the next batch (without replacement within an epoch; a new permutation each epoch).
ReinforceBatch reinforce_next_batch(ReinforceState& s, const ReinforceConfig& c);

// A_j = r_j − baseline: none (A = r), batch_mean, or group_mean (mean over the samples that share
// group_of[j], i.e. the same prompt).
std::vector<double> reinforce_advantages(const std::vector<double>& rewards, const std::vector<int64_t>& group_of,
                                         Baseline b);

// What a worker returns for its shard: Σ over its samples of d(loss_j)/dz (loss already divided by
// the global sample count), and sums for logging.
struct ShardGradient {
  std::vector<float> grad;
  double loss = 0, kl = 0, logp = 0;
  int64_t samples = 0;
};
ShardGradient shard_gradient_add(const ShardGradient& a, const ShardGradient& b);

// One optimizer step with the summed gradient; logs a training point. Returns the new state.
ReinforceState reinforce_apply(ReinforceState s, const ReinforceConfig& c, const ShardGradient& total,
                               const std::vector<double>& rewards);

// Whether the coordinator should validate now: after the first update, every eval_every updates
// from there, and after the last; never the initial z.
bool reinforce_should_validate(const ReinforceState& s, const ReinforceConfig& c);
bool reinforce_done(const ReinforceState& s, const ReinforceConfig& c);

// Records a validation score for the current z; keeps z as best_z when it beats the best so far.
ReinforceState reinforce_record_validation(ReinforceState s, double score);

std::string reinforce_state_to_bytes(const ReinforceState& s);
ReinforceState reinforce_state_from_bytes(std::string_view bytes, const std::string& what);

}  // namespace t2
