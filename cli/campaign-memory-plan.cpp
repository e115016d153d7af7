#include "cli/campaign-memory-plan.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "jobs/layer-list.h"

namespace t2 {
namespace {

// Calls fn on each value a hyperparameter takes: its value, or each entry of a sweep list.
template <typename F>
void for_each_value(const nlohmann::json& params, const char* key, F&& fn) {
  if (!params.is_object() || !params.contains(key)) return;
  const auto& v = params[key];
  if (v.is_array())
    for (const auto& x : v) fn(x);
  else
    fn(v);
}

// The largest number a hyperparameter takes, or 0 (callers only ask whether it is positive).
double max_number(const nlohmann::json& params, const char* key) {
  double m = 0;
  for_each_value(params, key, [&](const nlohmann::json& x) {
    if (x.is_number()) m = std::max(m, x.get<double>());
  });
  return m;
}

// The union of the modules a hyperparameter names.
void add_modules(const nlohmann::json& params, bool& mlp, bool& attn, bool& qkvo) {
  for_each_value(params, "modules", [&](const nlohmann::json& x) {
    if (!x.is_string()) return;
    const std::string m = x.get<std::string>();
    mlp |= m == "mlp" || m == "all" || m == "all_qkvo";
    attn |= m != "mlp" && m != "auto";
    qkvo |= m == "attn_qkvo" || m == "all_qkvo";
  });
}

// The union of the `layers` key (a layer list, or several when swept) into `layers`; `all` set when
// one of them is every layer. A decompose whose layers are "auto" follows the trainers: skipped.
void add_layers(const nlohmann::json& params, bool trainer, std::set<int64_t>& layers, bool& all) {
  if (!params.is_object() || !params.contains("layers")) {
    all |= trainer;  // a trainer's default is every layer
    return;
  }
  for_each_value(params, "layers", [&](const nlohmann::json& x) {
    if (!x.is_string() || x.get<std::string>() == "auto") return;
    const auto l = parse_layer_list(x.get<std::string>());
    if (l.empty()) all = true;
    layers.insert(l.begin(), l.end());
  });
}

}  // namespace

int64_t max_param(const nlohmann::json& params, const char* key) {
  int64_t m = 0;
  for_each_value(params, key, [&](const nlohmann::json& x) {
    if (x.is_number_integer()) m = std::max(m, x.get<int64_t>());
  });
  return m;
}

std::vector<const PhasePlan*> phases_over_budget(const MemoryPlan& p) {
  std::vector<const PhasePlan*> over;
  for (const PhasePlan* ph : {&p.evaluate, &p.train})
    if (!ph->fits) over.push_back(ph);
  for (const auto& w : p.work_items)
    if (!w.fits) over.push_back(&w);
  return over;
}

bool plan_fits(const MemoryPlan& p) { return p.valid && phases_over_budget(p).empty(); }

bool uses_model(const ExperimentSpec& e, const std::string& model) {
  return std::find(e.models.begin(), e.models.end(), model) != e.models.end();
}

PlanSettings campaign_plan_settings(const Campaign& c, const ModelSpec& m, const ModelShape& shape, PlanSettings base,
                                    const PlanFlagGiven& given, bool cpu_attention_fused) {
  PlanSettings st = base;
  if (!given("--tp")) st.tp = static_cast<int>(m.tp);
  if (!given("--gpu-memory-gb")) st.gpu_memory_gb = m.gpu_memory_gb;
  if (!given("--device") && c.device == "cpu") {  // the campaign's workers compute on the CPU
    st.device = PlanDevice::cpu;
    if (!given("--attention")) st.fused_attention = cpu_attention_fused;
    // the CPU counterpart of the CUDA context: the worker process's libraries
    if (!given("--runtime-overhead-gb")) st.runtime_overhead_gb = kCpuProcessBaselineGb;
  }
  // dtype auto serves fp32 on the CPU and bf16 on a GPU (workers/model.cpp)
  if (!given("--weights"))
    st.weight_bytes = m.dtype == "fp32" || (m.dtype == "auto" && st.device == PlanDevice::cpu) ? 4 : 2;
  if (!given("--factors")) st.factor_bytes = st.weight_bytes;  // U and V in the serving dtype
  int64_t batch = 0, new_tokens = 0, grad_rows = 0;
  bool mlp = false, attn = false, qkvo = false, kl = false, keep_all = false, all_layers = false;
  std::set<int64_t> layers;
  for (const auto& e : c.experiments) {
    if (!uses_model(e, m.name)) continue;
    if (e.kind == "train_expert" || e.kind == "classifier_expert") {
      // A gradient item: micro_batch rollouts, or its whole shard (16 prompts x samples) when 0.
      const int64_t mb = max_param(e.params, "micro_batch");
      const int64_t samples = std::max<int64_t>(1, max_param(e.params, "samples_per_prompt"));
      grad_rows = std::max(grad_rows, mb > 0 ? mb : 16 * samples);
      kl |= max_number(e.params, "kl_coef") > 0;  // the reference is scored only when λ > 0
      keep_all |= e.params.contains("recompute") && e.params["recompute"].dump().find("none") != std::string::npos;
    }
    if (e.kind == "evaluate") {
      const int64_t b = max_param(e.params, "batch_size");
      batch = std::max<int64_t>(batch, b > 0 ? b : 64);  // 64: the evaluate default (docs/campaign.md)
    }
    if (e.kind == "train_expert" || e.kind == "classifier_expert" || e.kind == "decompose") {
      add_modules(e.params, mlp, attn, qkvo);
      add_layers(e.params, e.kind != "decompose", layers, all_layers);
    }
  }
  if (!all_layers && !layers.empty())
    st.adapted_layers = static_cast<int64_t>(std::count_if(
        layers.begin(), layers.end(), [&](int64_t l) { return l >= 0 && l < shape.layers; }));
  for (const auto& t : c.tasks) new_tokens = std::max(new_tokens, t.max_new_tokens);
  if (!given("--batch") && batch > 0) st.eval_batch = static_cast<int>(batch);
  if (!given("--new-tokens") && new_tokens > 0) st.max_new_tokens = new_tokens;
  if (!given("--micro-batch") && grad_rows > 0) st.train_micro_batch = static_cast<int>(grad_rows);
  if (!given("--kl-reference") && kl) st.kl_reference = true;
  if (!given("--recompute") && keep_all) st.recompute = Recompute::none;
  if (!given("--modules") && (mlp || attn))
    st.modules = mlp && attn ? (qkvo ? SvfModules::all_qkvo : SvfModules::all)
                 : attn      ? (qkvo ? SvfModules::attn_qkvo : SvfModules::attn)
                             : SvfModules::mlp;
  return st;
}

}  // namespace t2
