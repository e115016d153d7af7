#include "experts/peft-file.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "experts/shape.h"
#include "workers/safetensors-writer.h"
#include "workers/safetensors.h"

namespace t2 {
namespace {

using json = nlohmann::ordered_json;
const std::string kPrefix = "base_model.model.";

std::vector<float> values_of(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat).contiguous().cpu();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

json number(double v) {
  if (std::floor(v) == v && std::abs(v) < 1e15) return json(static_cast<int64_t>(v));
  return json(v);
}

json config_json(const PeftConfig& c) {
  json j;
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = c.base_model_name_or_path.empty() ? json(nullptr) : json(c.base_model_name_or_path);
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  if (c.method == PeftMethod::ia3) {
    j["feedforward_modules"] = c.feedforward();
    j["init_ia3_weights"] = true;
    j["modules_to_save"] = nullptr;
    j["peft_type"] = "IA3";
    j["revision"] = nullptr;
    j["target_modules"] = c.targets();
    j["task_type"] = c.task_type;
    return j;
  }
  j["alpha_pattern"] = json::object();
  j["bias"] = "none";
  j["init_lora_weights"] = true;
  j["layer_replication"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = c.layers.empty() ? json(nullptr) : json(c.layers);
  j["loftq_config"] = json::object();
  j["lora_alpha"] = number(c.lora_alpha);
  j["lora_dropout"] = c.lora_dropout;
  j["megatron_config"] = nullptr;
  j["megatron_core"] = "megatron.core";
  j["modules_to_save"] = nullptr;
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = json::object();
  j["revision"] = nullptr;
  j["target_modules"] = c.targets();
  j["task_type"] = c.task_type;
  j["use_dora"] = c.method == PeftMethod::dora;
  j["use_rslora"] = c.use_rslora;
  return j;
}

PeftConfig parse_config(const std::string& path) {
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw FormatError(path + ": not JSON: " + e.what());
  }
  auto fail = [&](const std::string& what) { throw FormatError(path + ": " + what); };
  if (!j.is_object() || !j.contains("peft_type")) fail("no peft_type");
  auto str_list = [&](const char* key) {
    std::vector<std::string> v;
    if (!j.contains(key) || j[key].is_null()) return v;
    if (j[key].is_string()) fail(std::string(key) + " as a regular expression is not supported; list the module names");
    for (const auto& e : j[key]) v.push_back(e.get<std::string>());
    return v;
  };
  PeftConfig c;
  const std::string type = j["peft_type"].get<std::string>();
  if (j.value("fan_in_fan_out", false)) fail("fan_in_fan_out true is not supported (Conv1D-style weights)");
  if (j.contains("modules_to_save") && !j["modules_to_save"].is_null() && !j["modules_to_save"].empty())
    fail("modules_to_save is not supported");
  if (type == "IA3") {
    c.method = PeftMethod::ia3;
    c.target_modules = str_list("target_modules");
    c.feedforward_modules = str_list("feedforward_modules");
  } else if (type == "LORA") {
    c.method = j.value("use_dora", false) ? PeftMethod::dora : PeftMethod::lora;
    if (!j.contains("r") || !j.contains("lora_alpha")) fail("a LORA config needs r and lora_alpha");
    c.r = j["r"].get<int64_t>();
    c.lora_alpha = j["lora_alpha"].get<double>();
    c.lora_dropout = j.value("lora_dropout", 0.0);
    c.use_rslora = j.value("use_rslora", false);
    c.target_modules = str_list("target_modules");
    if (j.value("bias", std::string("none")) != "none") fail("bias '" + j["bias"].get<std::string>() + "' is not supported");
    for (const char* k : {"rank_pattern", "alpha_pattern"})
      if (j.contains(k) && !j[k].is_null() && !j[k].empty()) fail(std::string(k) + " is not supported");
    if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null()) {
      if (j["layers_to_transform"].is_number()) c.layers = {j["layers_to_transform"].get<int64_t>()};
      else c.layers = j["layers_to_transform"].get<std::vector<int64_t>>();
    }
  } else {
    fail("peft_type '" + type + "' is not supported (LORA, LORA with use_dora, IA3)");
  }
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
    c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  if (j.contains("task_type") && j["task_type"].is_string()) c.task_type = j["task_type"].get<std::string>();
  return c;
}

torch::Tensor read_tensor(const Checkpoint& ck, const std::string& name) {
  const auto& info = ck.info(name);
  auto v = ck.read_f32(name);
  std::vector<int64_t> shape = info.shape;
  return torch::from_blob(v.data(), shape, torch::kFloat).clone();
}

}  // namespace

std::string peft_key(const std::string& module, const std::string& suffix) { return kPrefix + module + "." + suffix; }

void write_peft(const std::string& dir, const PeftAdapter& a) {
  make_dirs(dir);
  SafetensorsWriter w;
  for (const auto& [m, f] : a.lora) {
    w.add_f32(peft_key(m, "lora_A.weight"), {f.A.size(0), f.A.size(1)}, values_of(f.A));
    w.add_f32(peft_key(m, "lora_B.weight"), {f.B.size(0), f.B.size(1)}, values_of(f.B));
    if (f.dora()) w.add_f32(peft_key(m, "lora_magnitude_vector"), {f.magnitude.numel()}, values_of(f.magnitude));
  }
  for (const auto& [m, v] : a.ia3) {
    std::vector<int64_t> shape = v.feedforward ? std::vector<int64_t>{1, v.l.numel()} : std::vector<int64_t>{v.l.numel(), 1};
    w.add_f32(peft_key(m, "ia3_l"), shape, values_of(v.l));
  }
  w.set_metadata("format", "pt");
  w.write(dir + "/adapter_model.safetensors");
  write_file_atomic(dir + "/adapter_config.json", config_json(a.config).dump(2) + "\n");
}

PeftAdapter read_peft(const std::string& dir) {
  const std::string cfg_path = dir + "/adapter_config.json", st_path = dir + "/adapter_model.safetensors";
  T2_CHECK_AS(FormatError, path_exists(cfg_path) && path_exists(st_path),
              "{} is not a PEFT adapter folder (needs adapter_config.json and adapter_model.safetensors)", dir);
  PeftAdapter a;
  a.config = parse_config(cfg_path);
  auto ck = Checkpoint::open_file(st_path);
  auto fail = [&](const std::string& key, const std::string& what) { throw FormatError(st_path + ": '" + key + "': " + what); };
  const bool is_ia3 = a.config.method == PeftMethod::ia3;
  const auto ff = a.config.feedforward();
  std::map<std::string, std::map<std::string, torch::Tensor>> by_module;
  for (const auto& name : ck.names()) {
    if (name.rfind(kPrefix, 0) != 0) fail(name, "does not start with " + kPrefix);
    std::string rest = name.substr(kPrefix.size());
    std::string suffix;
    for (const char* s : {".lora_A.weight", ".lora_B.weight", ".lora_magnitude_vector", ".ia3_l"}) {
      const std::string sf = s;
      if (rest.size() > sf.size() && rest.compare(rest.size() - sf.size(), sf.size(), sf) == 0) suffix = sf.substr(1);
    }
    if (suffix.empty()) fail(name, "is not a LoRA, DoRA or IA3 weight t2 can apply");
    if (is_ia3 != (suffix == "ia3_l")) fail(name, std::string("does not belong to a ") + (is_ia3 ? "IA3" : "LORA") + " adapter");
    if (suffix == "lora_magnitude_vector" && a.config.method != PeftMethod::dora)
      fail(name, "a DoRA magnitude in a config without use_dora");
    by_module[rest.substr(0, rest.size() - suffix.size() - 1)][suffix] = read_tensor(ck, name);
  }
  for (auto& [m, ts] : by_module) {
    if (is_ia3) {
      auto l = ts["ia3_l"];
      Ia3Vector v;
      const std::string last = m.substr(m.rfind('.') + 1);
      v.feedforward = std::find(ff.begin(), ff.end(), last) != ff.end();
      if (l.dim() != 2 || (v.feedforward ? l.size(0) : l.size(1)) != 1)
        fail(peft_key(m, "ia3_l"), "shape " + shape_of(l) + ", expected " + (v.feedforward ? "[1, in]" : "[out, 1]"));
      v.l = l.flatten().contiguous();
      a.ia3[m] = std::move(v);
      continue;
    }
    if (!ts.count("lora_A.weight") || !ts.count("lora_B.weight")) fail(peft_key(m, "lora_A.weight"), "module lacks lora_A or lora_B");
    LoraFactors f;
    f.A = ts["lora_A.weight"];
    f.B = ts["lora_B.weight"];
    f.scaling = a.config.scaling();
    if (f.A.dim() != 2 || f.B.dim() != 2 || f.A.size(0) != a.config.r || f.B.size(1) != a.config.r)
      fail(peft_key(m, "lora_A.weight"), "shapes A " + shape_of(f.A) + ", B " + shape_of(f.B) + " disagree with r " +
                                            std::to_string(a.config.r));
    if (a.config.method == PeftMethod::dora) {
      if (!ts.count("lora_magnitude_vector")) fail(peft_key(m, "lora_magnitude_vector"), "missing for a DoRA module");
      f.magnitude = ts["lora_magnitude_vector"].flatten().contiguous();
      if (f.magnitude.numel() != f.B.size(0)) fail(peft_key(m, "lora_magnitude_vector"), "length disagrees with lora_B");
    }
    a.lora[m] = std::move(f);
  }
  T2_CHECK_AS(FormatError, !by_module.empty(), "{}: no adapter tensors", st_path);
  return a;
}

}  // namespace t2
