// The memory planner behind `t2 plan` (DESIGN.md decision 10): pure arithmetic on a model shape, a
// tensor-parallel degree, dtypes and the campaign's batch and length settings. For one model it gives
// the bytes each GPU rank of a worker group needs, item by item, for evaluation (generation with a KV
// cache) and for SVF training (generation, then scoring with a backward pass to z), and whether that
// fits the configured GPU memory. Sizes are decimal (1 GB = 1e9 bytes), which under-counts an "80 GB"
// GPU (79.6 GiB) slightly: the plan errs on the safe side.
//
// The layout follows DESIGN.md decision 2: column-parallel layers (q, k, v, gate, up) shard U's rows,
// row-parallel layers (o, down) shard V's rows; the other factor, σ and z are replicated. Embedding
// and LM head are vocab-parallel. The formulas are in docs/coordinator.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2 {

struct ModelShape {
  std::string name;          // for messages ("Meta-Llama-3-70B-Instruct" or the config path)
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;      // hidden / heads when 0
  int64_t vocab = 0;
  bool tied = false;         // LM head shares the embedding
  int checkpoint_bytes = 0;  // bytes per weight in the checkpoint (config torch_dtype; 0: unknown)

  int64_t parameter_count() const;  // embedding, layers (with norms), final norm, head unless tied
};

// The shapes of Llama 3 8B and 70B (their config.json files), used by tests and examples.
ModelShape llama3_8b_shape();
ModelShape llama3_70b_shape();

// From a config.json: coordinator/memory-plan-model.h (through the runtime's parser).

// which linear layers are adapted: attn = q, v (the paper's ablation), attn_qkvo = q, k, v, o;
// all = mlp + q, v; all_qkvo = mlp + q, k, v, o
enum class SvfModules { mlp, attn, attn_qkvo, all, all_qkvo };
SvfModules parse_svf_modules(const std::string& s);  // UsageError listing the valid names
const char* svf_modules_name(SvfModules m);

enum class Recompute { none, layer };  // training activations: keep all, or checkpoint each layer
Recompute parse_recompute(const std::string& s);
const char* recompute_name(Recompute r);

// Where the model lives: a GPU (CUDA context and NCCL workspaces besides the tensors) or the host
// (the worker process's resident set: its libraries besides the tensors).
enum class PlanDevice { gpu, cpu };
PlanDevice parse_plan_device(const std::string& s);  // "gpu" | "cuda" | "cpu"; UsageError otherwise
const char* plan_device_name(PlanDevice d);

// The baseline resident set of a CPU worker process before it loads a model (LibTorch, MKL/OpenMP,
// MPI, HDF5), measured on the reference machine; the CPU counterpart of runtime_overhead_gb.
inline constexpr double kCpuProcessBaselineGb = 0.2;

struct PlanSettings {
  int tp = 1;                        // tensor-parallel degree of one worker group
  PlanDevice device = PlanDevice::gpu;
  double gpu_memory_gb = 80;         // per GPU (device cpu: the host's memory)
  double headroom_fraction = 0.05;   // kept free for allocator fragmentation
  double runtime_overhead_gb = 2.0;  // CUDA context, cuBLAS and NCCL workspaces
  int weight_bytes = 2;              // bf16 serving weights
  int factor_bytes = 2;              // U, σ, V in bf16 (4: fp32)
  int eval_batch = 32;               // sequences generated together
  int64_t max_prompt_tokens = 1024;
  int64_t max_new_tokens = 1024;
  int train_micro_batch = 1;         // sequences per scoring forward/backward
  SvfModules modules = SvfModules::mlp;
  // Decoder layers that carry SVF factors (the campaign key `layers` of the model's experts, their
  // union; 0: every layer). The paper's 70B adapts 40 of its 80.
  int64_t adapted_layers = 0;
  // The campaign key `recompute` of gradient items (default layer: each layer rerun in backward).
  Recompute recompute = Recompute::layer;
  bool adam_on_coordinator = true;   // DESIGN.md decision 1: workers hold no optimizer state
  // Work items (plan_work_items): attention without a materialised [tokens, tokens] score matrix
  // (LibTorch 2 fused kernels; LibTorch 1.x computes fp32 scores), the rows of one CEM item
  // (candidates x shots; 0: eval_batch), and whether a gradient item also scores the reference
  // (KL coefficient λ > 0).
  bool fused_attention = true;
  int cem_rows = 0;
  bool kl_reference = false;

  int64_t tokens() const { return max_prompt_tokens + max_new_tokens; }
};

// One adapted matrix kind of one layer and its factor sizes (elements, not bytes).
struct AdaptedMatrix {
  std::string name;       // "gate_proj", ...
  int64_t out = 0, in = 0, k = 0;  // W is out×in, k = min(out, in)
  bool column_parallel = true;     // shards output rows (U rows); else input (V rows)
  int64_t u_elements = 0, v_elements = 0, sigma_elements = 0;  // whole, before sharding
  int64_t u_per_rank = 0, v_per_rank = 0;                       // after the TP layout
};

struct MemoryItem {
  std::string name;
  uint64_t bytes = 0;
  std::string formula;    // how it was computed, with the numbers
};

struct PhasePlan {
  std::string phase;      // "evaluate" or "train-svf"
  std::vector<MemoryItem> items;
  uint64_t total_bytes = 0;
  uint64_t budget_bytes = 0;   // gpu memory × (1 − headroom)
  bool fits = false;
};

// A setting that does not fit (or is not valid) for this model, and why.
struct Misfit {
  std::string setting;    // "tp 4", "eval_batch 128 at 2048 tokens", "modules all"
  std::string phase;      // "evaluate", "train-svf" or "layout"
  std::string reason;
};

struct MemoryPlan {
  ModelShape shape;
  PlanSettings settings;
  bool valid = true;                 // the TP degree divides the shape
  std::string invalid_reason;
  std::vector<AdaptedMatrix> adapted;  // per layer
  int64_t adapted_matrices = 0;        // layers × adapted per layer
  int64_t z_count = 0;                 // Σ k over adapted matrices
  PhasePlan evaluate, train;
  std::vector<PhasePlan> work_items;   // "evaluate item", "grad item", "cem item" (plan_work_items)
  std::vector<Misfit> misfits;         // filled by plan_memory_with_alternatives
};

// Why `tp` cannot shard this shape ("" when it can).
std::string tp_layout_problem(const ModelShape& shape, int tp);

// The adapted matrices of one layer for these modules, with factor sizes under this TP degree.
std::vector<AdaptedMatrix> adapted_matrices(const ModelShape& shape, SvfModules modules, int tp);

// The plan for exactly these settings.
MemoryPlan plan_memory(const ModelShape& shape, const PlanSettings& settings);

// The peak memory of one worker executing each kind of work item (workers/work-executor.h), as the
// runtime holds it today: resident weights, factors and process/CUDA baseline, plus the item's own
// peak. "evaluate item": generate eval_batch sequences under one expert (KV cache, one layer of
// prefill activations, the last position's logits). "grad item": score train_micro_batch rollouts of
// max_new_tokens after max_prompt_tokens with autograd to z (every layer's saved activations, the
// [sequences x completion tokens x vocab] fp32 log-softmax and its gradient, the reference's when
// kl_reference). "cem item": generate cem_rows sequences, each row with its own multipliers. Filled
// into MemoryPlan::work_items by plan_memory; coordinator/memory-plan-items.cpp has the formulas.
std::vector<PhasePlan> plan_work_items(const MemoryPlan& plan);

// The plan for these settings plus the neighbouring settings that do not fit: other TP degrees
// (1, 2, 4, 8, 16), doubled eval batches and training micro-batches, fp32 factors, other modules.
MemoryPlan plan_memory_with_alternatives(const ModelShape& shape, const PlanSettings& settings);

nlohmann::json memory_plan_json(const MemoryPlan& plan);
std::string memory_plan_text(const MemoryPlan& plan);
std::string format_gb(uint64_t bytes);  // "16.06 GB"

}  // namespace t2
