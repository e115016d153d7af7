#include "bench/support/random-llama.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "core/files.h"
#include "workers/safetensors-writer.h"

namespace t2::bench {

void write_random_llama(const std::string& dir, const RandomLlamaShape& s, uint64_t seed) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(seed);
  SafetensorsWriter w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double scale, double mean = 0) {
    auto t = (torch::randn(shape) * scale + mean).contiguous();
    w.add_f32(name, shape, std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel()));
  };
  const int64_t hd = s.hidden / s.heads;
  const double in_h = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, 1.0);
  for (int64_t i = 0; i < s.layers; ++i) {
    auto p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, 0.1, 1.0);
    add(p + "self_attn.q_proj.weight", {s.heads * hd, s.hidden}, in_h);
    add(p + "self_attn.k_proj.weight", {s.kv_heads * hd, s.hidden}, in_h);
    add(p + "self_attn.v_proj.weight", {s.kv_heads * hd, s.hidden}, in_h);
    add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * hd}, 1.0 / std::sqrt(static_cast<double>(s.heads * hd)));
    add(p + "post_attention_layernorm.weight", {s.hidden}, 0.1, 1.0);
    add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, in_h);
    add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, in_h);
    add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, 1.0 / std::sqrt(static_cast<double>(s.intermediate)));
  }
  add("model.norm.weight", {s.hidden}, 0.1, 1.0);
  add("lm_head.weight", {s.vocab, s.hidden}, in_h);
  w.write(dir + "/model.safetensors");
  write_file_atomic(dir + "/config.json",
                    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " +
                        std::to_string(s.hidden) + ", \"num_hidden_layers\": " + std::to_string(s.layers) +
                        ", \"num_attention_heads\": " + std::to_string(s.heads) + ", \"num_key_value_heads\": " +
                        std::to_string(s.kv_heads) + ", \"intermediate_size\": " + std::to_string(s.intermediate) +
                        ", \"vocab_size\": " + std::to_string(s.vocab) + ", \"max_position_embeddings\": " +
                        std::to_string(s.max_positions) +
                        ", \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"hidden_act\": \"silu\", "
                        "\"tie_word_embeddings\": false, \"torch_dtype\": \"float32\", \"bos_token_id\": 1}\n");
}

}  // namespace t2::bench
