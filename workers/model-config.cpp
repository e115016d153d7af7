#include "workers/model-config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "core/names.h"

namespace t2 {

namespace {

using nlohmann::json;

const std::vector<std::string> kArchitectures = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};

int64_t get_int(const json& j, const std::string& key, const std::string& src, bool required, int64_t dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    T2_CHECK_AS(FormatError, !required, "{}: missing required key '{}' (an integer)", src, key);
    return dflt;
  }
  T2_CHECK_AS(FormatError, it->is_number_integer(), "{}: key '{}' must be an integer, got {}", src, key,
              it->dump());
  return it->get<int64_t>();
}

double get_num(const json& j, const std::string& key, const std::string& src, double dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  T2_CHECK_AS(FormatError, it->is_number(), "{}: key '{}' must be a number, got {}", src, key, it->dump());
  return it->get<double>();
}

bool get_bool(const json& j, const std::string& key, const std::string& src, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  T2_CHECK_AS(FormatError, it->is_boolean(), "{}: key '{}' must be true or false, got {}", src, key, it->dump());
  return it->get<bool>();
}

// eos_token_id is an integer or a list of integers.
void add_ids(const json& j, const std::string& key, const std::string& src, std::vector<int32_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  auto add = [&](const json& v) {
    T2_CHECK_AS(FormatError, v.is_number_integer(), "{}: key '{}' must hold integers, got {}", src, key, v.dump());
    int32_t id = v.get<int32_t>();
    for (int32_t e : out)
      if (e == id) return;
    out.push_back(id);
  };
  if (it->is_array()) {
    for (const auto& v : *it) add(v);
  } else {
    add(*it);
  }
}

}  // namespace

int64_t ModelConfig::parameter_count() const {
  int64_t d = hidden_size;
  int64_t attn = d * q_size() + 2 * d * kv_size() + q_size() * d;
  if (qkv_bias) attn += q_size() + 2 * kv_size();
  if (o_bias) attn += d;
  int64_t mlp = 3 * d * intermediate_size;
  int64_t per_layer = attn + mlp + 2 * d;
  int64_t n = vocab_size * d + num_hidden_layers * per_layer + d;
  if (!tie_word_embeddings) n += vocab_size * d;
  return n;
}

std::vector<double> ModelConfig::rope_inv_freq() const {
  std::vector<double> f(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < f.size(); ++i)
    f[i] = 1.0 / std::pow(rope_theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
  if (rope_scaling.type == "llama3") {
    const double pi = 3.14159265358979323846;
    const double old_ctx = static_cast<double>(rope_scaling.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rope_scaling.low_freq_factor;
    const double high_wavelen = old_ctx / rope_scaling.high_freq_factor;
    for (auto& v : f) {
      double wavelen = 2 * pi / v;
      if (wavelen < high_wavelen) continue;            // high frequencies: unchanged
      if (wavelen > low_wavelen) {                     // low frequencies: interpolated by factor
        v = v / rope_scaling.factor;
        continue;
      }
      double smooth = (old_ctx / wavelen - rope_scaling.low_freq_factor) /
                      (rope_scaling.high_freq_factor - rope_scaling.low_freq_factor);
      v = (1 - smooth) * v / rope_scaling.factor + smooth * v;
    }
  }
  return f;
}

std::vector<std::string> ModelConfig::layer_linear_names(int64_t layer) {
  std::string p = "model.layers." + std::to_string(layer) + ".";
  return {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj", p + "self_attn.o_proj",
          p + "mlp.gate_proj",    p + "mlp.up_proj",      p + "mlp.down_proj"};
}

ModelConfig parse_model_config(const std::string& text, const std::string& src) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    T2_FAIL_AS(FormatError, "{}: malformed JSON at byte {}: {}", src, e.byte, e.what());
  }
  T2_CHECK_AS(FormatError, j.is_object(), "{}: expected a JSON object at the top level", src);

  ModelConfig c;
  auto arch = j.find("architectures");
  T2_CHECK_AS(FormatError, arch != j.end() && arch->is_array() && arch->size() == 1 && (*arch)[0].is_string(),
              "{}: key 'architectures' must be a list with one name (one of {})", src, join(kArchitectures));
  c.architecture = (*arch)[0].get<std::string>();
  bool known = false;
  for (const auto& a : kArchitectures) known = known || a == c.architecture;
  T2_CHECK_AS(FormatError, known, "{}: architecture '{}' is not supported; {}", src, c.architecture,
              suggest(c.architecture, kArchitectures));
  c.model_type = j.value("model_type", std::string());

  c.hidden_size = get_int(j, "hidden_size", src, true, 0);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", src, true, 0);
  c.num_attention_heads = get_int(j, "num_attention_heads", src, true, 0);
  c.num_key_value_heads = get_int(j, "num_key_value_heads", src, false, c.num_attention_heads);
  c.intermediate_size = get_int(j, "intermediate_size", src, true, 0);
  c.vocab_size = get_int(j, "vocab_size", src, true, 0);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", src, false, 2048);
  T2_CHECK_AS(FormatError, c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0 &&
                               c.num_key_value_heads > 0 && c.intermediate_size > 0 && c.vocab_size > 0,
              "{}: hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, "
              "intermediate_size and vocab_size must be positive", src);
  T2_CHECK_AS(FormatError, c.num_attention_heads % c.num_key_value_heads == 0,
              "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", src,
              c.num_attention_heads, c.num_key_value_heads);
  int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  c.head_dim = get_int(j, "head_dim", src, false, default_head_dim);
  T2_CHECK_AS(FormatError, c.head_dim > 0 && c.head_dim % 2 == 0, "{}: head_dim must be positive and even, got {}",
              src, c.head_dim);
  c.rope_theta = get_num(j, "rope_theta", src, 10000.0);
  c.rms_norm_eps = get_num(j, "rms_norm_eps", src, 1e-6);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", src, false);

  std::string act = j.value("hidden_act", std::string("silu"));
  T2_CHECK_AS(FormatError, act == "silu", "{}: key 'hidden_act' is '{}'; t2 supports 'silu' (SwiGLU) only", src, act);
  T2_CHECK_AS(FormatError, !get_bool(j, "mlp_bias", src, false), "{}: key 'mlp_bias' true is not supported", src);
  T2_CHECK_AS(FormatError, get_int(j, "pretraining_tp", src, false, 1) == 1,
              "{}: key 'pretraining_tp' other than 1 is not supported", src);

  if (c.architecture == "Qwen2ForCausalLM") {
    c.qkv_bias = true;  // Qwen2 attention always carries q/k/v biases
    bool sw = get_bool(j, "use_sliding_window", src, false);
    T2_CHECK_AS(FormatError, !sw, "{}: key 'use_sliding_window' true is not supported", src);
  } else {
    bool b = get_bool(j, "attention_bias", src, false);
    c.qkv_bias = b;
    c.o_bias = b;
    if (c.architecture == "MistralForCausalLM") c.sliding_window = get_int(j, "sliding_window", src, false, 0);
  }

  auto rs = j.find("rope_scaling");
  if (rs != j.end() && !rs->is_null()) {
    T2_CHECK_AS(FormatError, rs->is_object(), "{}: key 'rope_scaling' must be an object or null", src);
    std::string type = rs->value("rope_type", rs->value("type", std::string()));
    if (type == "llama3") {
      c.rope_scaling.type = "llama3";
      c.rope_scaling.factor = get_num(*rs, "factor", src + " rope_scaling", 8.0);
      c.rope_scaling.low_freq_factor = get_num(*rs, "low_freq_factor", src + " rope_scaling", 1.0);
      c.rope_scaling.high_freq_factor = get_num(*rs, "high_freq_factor", src + " rope_scaling", 4.0);
      c.rope_scaling.original_max_position_embeddings =
          get_int(*rs, "original_max_position_embeddings", src + " rope_scaling", false, 8192);
      T2_CHECK_AS(FormatError, c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor &&
                                   c.rope_scaling.factor > 0,
                  "{}: rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor", src);
    } else {
      T2_CHECK_AS(FormatError, type == "default" || type.empty(),
                  "{}: rope_scaling type '{}' is not supported; {}", src, type,
                  suggest(type, {"llama3", "default"}));
    }
  }

  add_ids(j, "eos_token_id", src, c.eos_token_ids);
  auto bos = j.find("bos_token_id");
  if (bos != j.end() && bos->is_number_integer()) c.bos_token_id = bos->get<int32_t>();
  c.torch_dtype = j.value("torch_dtype", std::string());
  return c;
}

ModelConfig load_model_config(const std::string& model_dir) {
  std::string path = model_dir + "/config.json";
  T2_CHECK_AS(UsageError, path_exists(path), "{}: no config.json in the model folder", model_dir);
  ModelConfig c = parse_model_config(read_file(path), path);
  std::string gen = model_dir + "/generation_config.json";
  if (path_exists(gen)) {
    json g;
    try {
      g = json::parse(read_file(gen));
    } catch (const json::parse_error& e) {
      T2_FAIL_AS(FormatError, "{}: malformed JSON at byte {}: {}", gen, e.byte, e.what());
    }
    if (g.is_object()) add_ids(g, "eos_token_id", gen, c.eos_token_ids);
  }
  return c;
}

}  // namespace t2
