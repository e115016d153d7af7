// SVF experts as Hugging Face safetensors, for sharing z with tools that are not t2
// (`t2 experts export/import`, docs/ecosystem.md#experts-as-safetensors). One F32 tensor per adapted
// matrix, stored under the model's own tensor name ("model.layers.0.mlp.gate_proj.weight" holds that
// matrix's z, shape [rank]: W' = U diag(sigma * z) V^T, METHOD.md §3), and string metadata:
//
//   format "t2-svf-expert", version "1", matrices (JSON list of the tensor names in model order),
//   base_model, base_model_hash, task, method, config, best_validation, best_step,
//   curve (JSON object of columns: step, reward_mean, reward_std, loss, kl, grad_norm, lr, validation)
//
// The file is a pure function of the expert (sorted keys, no timestamps); export then import gives
// back the same z bit for bit. Torch-free (public).
#pragma once

#include <string>

#include "experts/expert-file.h"

namespace t2 {

// Writes atomically.
void expert_write_safetensors(const std::string& path, const Expert& e);
// FormatError naming the file and the key when it is not a t2 SVF expert or is inconsistent.
Expert expert_read_safetensors(const std::string& path);

// True when the file starts like a safetensors file (an 8-byte length, then '{'), not HDF5.
bool is_safetensors_file(const std::string& path);
// Either form: safetensors (by content) or the HDF5 expert file.
Expert expert_read_any(const std::string& path);

}  // namespace t2
