#include "experts/svf-subset.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace t2 {

namespace {

std::set<std::string> module_names(const std::string& modules) {
  const std::set<std::string> mlp = {"gate_proj", "up_proj", "down_proj"};
  std::set<std::string> out;
  if (modules == "mlp" || modules == "all" || modules == "all_qkvo") out.insert(mlp.begin(), mlp.end());
  if (modules == "attn" || modules == "all") out.insert({"q_proj", "v_proj"});
  if (modules == "attn_qkvo" || modules == "all_qkvo") out.insert({"q_proj", "k_proj", "v_proj", "o_proj"});
  if (out.empty())
    throw UsageError("SVF modules '" + modules + "' (expected mlp, attn, attn_qkvo, all or all_qkvo)");
  return out;
}

// "model.layers.12.mlp.gate_proj" -> 12 (-1 when the name has no layer index)
int64_t layer_of(const std::string& name) {
  const std::string key = "layers.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return -1;
  size_t end = at + key.size();
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return end > at + key.size() ? std::stoll(name.substr(at + key.size(), end - at - key.size())) : -1;
}

std::string last_part(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

std::vector<bool> svf_trained_matrices(const ZLayout& layout, const std::string& modules,
                                       const std::vector<int64_t>& layers) {
  const auto wanted = module_names(modules);
  std::vector<bool> out(layout.names.size(), false);
  std::set<std::pair<int64_t, std::string>> present;
  int64_t max_layer = -1;
  for (size_t i = 0; i < layout.names.size(); ++i) {
    const int64_t l = layer_of(layout.names[i]);
    const std::string m = last_part(layout.names[i]);
    present.insert({l, m});
    max_layer = std::max(max_layer, l);
    out[i] = wanted.count(m) && (layers.empty() || std::binary_search(layers.begin(), layers.end(), l));
  }
  // Every (layer, module) the expert asks for must be in the decomposition.
  std::vector<int64_t> need = layers;
  if (need.empty())
    for (int64_t l = 0; l <= max_layer; ++l) need.push_back(l);
  for (int64_t l : need)
    for (const auto& m : wanted)
      if (!present.count({l, m}))
        throw UsageError("the decomposition has no matrix model.layers." + std::to_string(l) + ".*." + m +
                         ", which an expert of modules '" + modules + "' trains (decompose covers other modules or "
                         "layers; leave the decompose experiment's modules and layers at auto)");
  return out;
}

int64_t svf_trained_values(const ZLayout& layout, const std::vector<bool>& trained) {
  int64_t n = 0;
  for (size_t i = 0; i < trained.size(); ++i)
    if (trained[i]) n += layout.sizes[i];
  return n;
}

}  // namespace t2
