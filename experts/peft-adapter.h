// A parameter-efficient adapter of a whole model in PEFT's terms: the method (LoRA, DoRA, IA3), its
// settings (PEFT's adapter_config.json keys) and one LoRA factor pair / IA3 vector per adapted linear
// layer, keyed by the runtime's HF module name ("model.layers.3.self_attn.q_proj"). Creation with
// PEFT's initialisation, attaching to a Model as LinearAdapters (this rank's TP shard), and the list
// of trainable tensors. The file layout is experts/peft-file.h.
//
// INTERNAL to experts/ (torch).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "experts/ia3-linear.h"
#include "experts/lora-linear.h"

namespace t2 {

class Model;

enum class PeftMethod { lora, dora, ia3 };
const char* peft_method_name(PeftMethod m);          // "lora", "dora", "ia3"
PeftMethod parse_peft_method(const std::string& s);  // UsageError naming the accepted values

struct PeftConfig {
  PeftMethod method = PeftMethod::lora;
  // The paper's LoRA (METHOD.md §7): q and v projections, r 16, alpha 32, dropout 0.05.
  int64_t r = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  bool use_rslora = false;                          // scaling alpha/√r instead of alpha/r
  std::vector<std::string> target_modules;          // last name component; empty: the method's default
  std::vector<std::string> feedforward_modules;     // IA3: modules scaled on the input (default down_proj)
  std::vector<int64_t> layers;                      // PEFT layers_to_transform; empty: every layer
  std::string base_model_name_or_path;
  std::string task_type = "CAUSAL_LM";
  double scaling() const;
  // target_modules / feedforward_modules with the method's defaults filled in:
  // LoRA/DoRA q_proj, v_proj; IA3 k_proj, v_proj, down_proj with down_proj feed-forward (PEFT's Llama defaults).
  std::vector<std::string> targets() const;
  std::vector<std::string> feedforward() const;
};

struct PeftAdapter {
  PeftConfig config;
  std::map<std::string, LoraFactors> lora;  // LoRA / DoRA: full (unsharded) factors per module
  std::map<std::string, Ia3Vector> ia3;     // IA3: full vectors per module
  int64_t trainable_parameters() const;
};

// Whether module `name` ("model.layers.3.self_attn.q_proj") is adapted under `cfg`.
bool peft_targets(const PeftConfig& cfg, const std::string& name);

// PEFT's initialisation for every targeted linear layer of `model` (the identity adapter: B = 0,
// m = ‖W‖_row gathered from the TP shards, l = 1). Refuses a config that targets no layer, and IA3
// output scaling of a layer with a bias (PEFT would scale the bias too). Deterministic given `seed`.
PeftAdapter peft_init(Model& model, const PeftConfig& cfg, uint64_t seed);

// The live adapters attached to a model (this rank's shards); they share tensors with nothing.
struct PeftAttached {
  std::map<std::string, std::shared_ptr<LoraLinearAdapter>> lora;
  std::map<std::string, std::shared_ptr<Ia3LinearAdapter>> ia3;
  // Every trainable tensor in a fixed order (module name, then A, B, m / l).
  std::vector<torch::Tensor> parameters() const;
  // Per parameter: whether its gradient is a partial sum over the TP group (see lora-linear.h).
  std::vector<bool> replicated() const;
  // Back to full (unsharded) factors: this rank's shards all-gathered over the model's TP group.
  PeftAdapter gather(const Model& model, const PeftConfig& cfg) const;
  void set_training(bool training);  // dropout on (LoRA/DoRA) while training
};

// Attaches the adapter's layers to `model` (checks every module exists with the adapter's shapes;
// shards by the model's TP layout). trainable: the tensors become leaves that require grad.
PeftAttached peft_attach(Model& model, const PeftAdapter& adapter, bool trainable);

}  // namespace t2
