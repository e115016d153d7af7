// The Hugging Face config.json of a Llama-family decoder (LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM), parsed into the numbers the runtime, the memory planner and the SVF code need.
// Torch-free (t2_workers_base). Anything t2 cannot run faithfully (another architecture, an
// activation other than SiLU, a rope_scaling type other than Llama 3's, sliding-window attention
// that is switched on) is refused by name with a FormatError that names the file and the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

// rope_scaling {"rope_type": "llama3", ...}: frequencies below the original context are divided by
// `factor`, high frequencies kept, the band between interpolated (Llama 3.1 rule).
struct RopeScaling {
  std::string type;                          // "" (none) or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;                  // "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"
  std::string model_type;                    // "llama", "mistral", "qwen2"
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;           // GQA; equals num_attention_heads when absent
  int64_t head_dim = 0;                      // hidden_size / num_attention_heads when absent
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t sliding_window = 0;                // 0: none; else sequences longer than this are refused
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;                     // Qwen2 always; Llama with attention_bias
  bool o_bias = false;                       // Llama with attention_bias
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;        // config.json plus generation_config.json when present
  std::string torch_dtype;                   // as written ("bfloat16", ...), informational

  int64_t q_size() const { return num_attention_heads * head_dim; }
  int64_t kv_size() const { return num_key_value_heads * head_dim; }
  // Parameters of the whole model (embedding, layers, norms, head unless tied).
  int64_t parameter_count() const;
  // The rotary inverse frequencies, head_dim/2 of them, with rope_scaling applied (double precision).
  std::vector<double> rope_inv_freq() const;
  // Names of the linear layers of layer i, in checkpoint order (q, k, v, o, gate, up, down).
  static std::vector<std::string> layer_linear_names(int64_t layer);
};

// Parses config.json text; `source` (a path) is used in error messages.
ModelConfig parse_model_config(const std::string& json_text, const std::string& source);

// Reads MODEL_DIR/config.json (and MODEL_DIR/generation_config.json for extra EOS ids).
ModelConfig load_model_config(const std::string& model_dir);

}  // namespace t2
