#include "experts/expert-safetensors.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/error.h"
#include "workers/safetensors-writer.h"
#include "workers/safetensors.h"

namespace t2 {

namespace {

const char* kFormat = "t2-svf-expert";
const char* kCurveFields[] = {"step", "reward_mean", "reward_std", "loss", "kl", "grad_norm", "lr", "validation"};

std::string tensor_name(const std::string& matrix) { return matrix + ".weight"; }

// JSON has no NaN: a validation not taken at a step is null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double number_of(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

nlohmann::json curve_json(const std::vector<TrainingPoint>& curve) {
  nlohmann::json c = nlohmann::json::object();
  for (auto* f : kCurveFields) c[f] = nlohmann::json::array();
  for (const auto& p : curve) {
    c["step"].push_back(p.step);
    c["reward_mean"].push_back(number(p.reward_mean));
    c["reward_std"].push_back(number(p.reward_std));
    c["loss"].push_back(number(p.loss));
    c["kl"].push_back(number(p.kl));
    c["grad_norm"].push_back(number(p.grad_norm));
    c["lr"].push_back(number(p.lr));
    c["validation"].push_back(number(p.validation));
  }
  return c;
}

// %.17g keeps every double exact through the text.
std::string exact(double v) { return fmt::format("{:.17g}", v); }

}  // namespace

void expert_write_safetensors(const std::string& path, const Expert& e) {
  T2_CHECK(static_cast<int64_t>(e.z.size()) == e.layout.total(), "expert for {}: z has {} entries, the layout {}",
           path, e.z.size(), e.layout.total());
  SafetensorsWriter w;
  nlohmann::json names = nlohmann::json::array();
  for (size_t i = 0; i < e.layout.names.size(); ++i) {
    const auto* begin = e.z.data() + e.layout.offset(i);
    w.add_f32(tensor_name(e.layout.names[i]), {e.layout.sizes[i]}, std::vector<float>(begin, begin + e.layout.sizes[i]));
    names.push_back(tensor_name(e.layout.names[i]));
  }
  w.set_metadata("format", kFormat);
  w.set_metadata("version", "1");
  w.set_metadata("matrices", names.dump());
  w.set_metadata("base_model", e.base_model);
  w.set_metadata("base_model_hash", e.base_model_hash);
  w.set_metadata("task", e.task);
  w.set_metadata("method", e.method);
  w.set_metadata("config", e.config);
  w.set_metadata("best_validation", exact(e.best_validation));
  w.set_metadata("best_step", std::to_string(e.best_step));
  // JSON dumps doubles with the shortest text that reads back to the same value.
  w.set_metadata("curve", curve_json(e.curve).dump());
  w.write(path);
}

Expert expert_read_safetensors(const std::string& path) {
  SafetensorsFile f(path);
  const auto& md = f.metadata();
  auto meta = [&](const char* key, bool required = true) -> std::string {
    auto it = md.find(key);
    T2_CHECK_AS(FormatError, it != md.end() || !required, "{}: __metadata__.{} is missing", path, key);
    return it == md.end() ? "" : it->second;
  };
  T2_CHECK_AS(FormatError, meta("format", false) == kFormat,
              "{}: not a t2 SVF expert (__metadata__.format is '{}', expected '{}'; t2 experts export writes one)",
              path, meta("format", false), kFormat);
  T2_CHECK_AS(FormatError, meta("version") == "1", "{}: expert version {} is not supported (expected 1)", path,
              meta("version"));
  Expert e;
  try {
    auto names = nlohmann::json::parse(meta("matrices"));
    for (const auto& n : names) {
      std::string name = n.get<std::string>();
      T2_CHECK_AS(FormatError, name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0,
                  "{}: __metadata__.matrices: '{}' is not a tensor name ending in .weight", path, name);
      const TensorInfo* t = f.find(name);
      T2_CHECK_AS(FormatError, t, "{}: tensor '{}' (listed in __metadata__.matrices) is missing", path, name);
      T2_CHECK_AS(FormatError, t->dtype == TensorDType::f32 && t->shape.size() == 1,
                  "{}: tensor '{}' is {} {}-D; expected a 1-D F32 z", path, name, tensor_dtype_name(t->dtype),
                  t->shape.size());
      e.layout.names.push_back(name.substr(0, name.size() - 7));
      e.layout.sizes.push_back(t->shape[0]);
      const float* p = static_cast<const float*>(f.data(*t));
      e.z.insert(e.z.end(), p, p + t->shape[0]);
    }
    T2_CHECK_AS(FormatError, names.size() == f.tensors().size(),
                "{}: {} tensors but __metadata__.matrices lists {}", path, f.tensors().size(), names.size());
    e.base_model = meta("base_model");
    e.base_model_hash = meta("base_model_hash");
    e.task = meta("task");
    e.method = meta("method");
    e.config = meta("config");
    e.best_validation = std::stod(meta("best_validation"));
    e.best_step = std::stoll(meta("best_step"));
    auto c = nlohmann::json::parse(meta("curve"));
    const size_t n = c.at("step").size();
    for (auto* field : kCurveFields)
      T2_CHECK_AS(FormatError, c.at(field).size() == n, "{}: __metadata__.curve.{} has {} rows, step has {}", path,
                  field, c.at(field).size(), n);
    for (size_t r = 0; r < n; ++r) {
      TrainingPoint p;
      p.step = c["step"][r].get<int64_t>();
      p.reward_mean = number_of(c["reward_mean"][r]);
      p.reward_std = number_of(c["reward_std"][r]);
      p.loss = number_of(c["loss"][r]);
      p.kl = number_of(c["kl"][r]);
      p.grad_norm = number_of(c["grad_norm"][r]);
      p.lr = number_of(c["lr"][r]);
      p.validation = number_of(c["validation"][r]);
      e.curve.push_back(p);
    }
  } catch (const nlohmann::json::exception& x) {
    throw FormatError(fmt::format("{}: __metadata__ is malformed: {}", path, x.what()));
  } catch (const std::invalid_argument&) {
    throw FormatError(fmt::format("{}: __metadata__.best_validation/best_step is not a number", path));
  } catch (const std::out_of_range&) {
    throw FormatError(fmt::format("{}: __metadata__.best_validation/best_step is out of range", path));
  }
  return e;
}

bool is_safetensors_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[9] = {0};
  if (!f.read(head, 9)) return false;
  return head[8] == '{' && std::memcmp(head, "\x89HDF", 4) != 0;
}

Expert expert_read_any(const std::string& path) {
  return is_safetensors_file(path) ? expert_read_safetensors(path) : expert_read(path);
}

}  // namespace t2
