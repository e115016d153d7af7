// PEFT's on-disk layout, so adapters trained by t2 load with PeftModel.from_pretrained and adapters
// trained elsewhere evaluate in t2:
//
//   DIR/adapter_config.json          PEFT's config keys (peft_type LORA with use_dora, or IA3; r,
//                                    lora_alpha, lora_dropout, target_modules, layers_to_transform,
//                                    base_model_name_or_path, task_type, fan_in_fan_out false, ...)
//   DIR/adapter_model.safetensors    float32 tensors under PEFT's names (adapter name stripped):
//     base_model.model.<module>.lora_A.weight          [r, in]
//     base_model.model.<module>.lora_B.weight          [out, r]
//     base_model.model.<module>.lora_magnitude_vector  [out]      (DoRA)
//     base_model.model.<module>.ia3_l                  [out, 1] or [1, in] (feed-forward modules)
//   with <module> the HF module name, e.g. model.layers.0.self_attn.q_proj.
//
// Reading refuses (FormatError naming the file and key) what t2 cannot evaluate faithfully:
// another peft_type, fan_in_fan_out, rank/alpha patterns, biases or embedding adapters, a module
// without both LoRA factors, shapes that disagree with r.
//
// INTERNAL to experts/ (torch).
#pragma once

#include <string>

#include "experts/peft-adapter.h"

namespace t2 {

void write_peft(const std::string& dir, const PeftAdapter& adapter);
PeftAdapter read_peft(const std::string& dir);

// The PEFT tensor-name prefix of a module: "base_model.model." + module.
std::string peft_key(const std::string& module, const std::string& suffix);

}  // namespace t2
