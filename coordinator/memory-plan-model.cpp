#include "coordinator/memory-plan-model.h"

#include "core/check.h"
#include "core/files.h"

namespace t2 {

ModelShape model_shape_from_config(const ModelConfig& c, const std::string& name) {
  ModelShape s;
  s.name = name;
  s.layers = c.num_hidden_layers;
  s.hidden = c.hidden_size;
  s.intermediate = c.intermediate_size;
  s.heads = c.num_attention_heads;
  s.kv_heads = c.num_key_value_heads;
  s.head_dim = c.head_dim;
  s.vocab = c.vocab_size;
  s.tied = c.tie_word_embeddings;
  if (c.torch_dtype == "float32") s.checkpoint_bytes = 4;
  if (c.torch_dtype == "bfloat16" || c.torch_dtype == "float16") s.checkpoint_bytes = 2;
  return s;
}

ModelShape model_shape_from_path(const std::string& p) {
  std::string file = p;
  if (path_exists(p + "/config.json")) file = p + "/config.json";
  T2_CHECK_AS(UsageError, path_exists(file) && file.size() >= 11 && file.compare(file.size() - 11, 11, "config.json") == 0,
              "{}: no config.json there (t2 plan reads the model's Hugging Face config.json)", p);
  return model_shape_from_config(parse_model_config(read_file(file), file), file);
}

}  // namespace t2
