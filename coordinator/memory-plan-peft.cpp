#include "coordinator/memory-plan-peft.h"

#include <algorithm>

#include <fmt/format.h>

namespace t2 {

int64_t peft_trainable_values(const ModelShape& s, const PeftPlanSpec& spec) {
  const int64_t hd = s.head_dim ? s.head_dim : s.hidden / std::max<int64_t>(1, s.heads);
  const int64_t q = s.heads * hd, kv = s.kv_heads * hd;
  struct M {
    const char* name;
    int64_t out, in;
  };
  std::vector<M> ms;
  if (spec.method == "ia3")
    ms = {{"k_proj", kv, s.hidden}, {"v_proj", kv, s.hidden}, {"down_proj", s.hidden, s.intermediate}};
  else
    ms = {{"q_proj", q, s.hidden}, {"v_proj", kv, s.hidden}};
  if (spec.modules == "all") {
    ms.push_back({"gate_proj", s.intermediate, s.hidden});
    ms.push_back({"up_proj", s.intermediate, s.hidden});
    if (spec.method != "ia3") ms.push_back({"down_proj", s.hidden, s.intermediate});
  }
  int64_t per_layer = 0;
  for (const auto& m : ms) {
    if (spec.method == "ia3")
      per_layer += std::string(m.name) == "down_proj" ? m.in : m.out;  // feed-forward modules scale the input
    else
      per_layer += spec.r * (m.in + m.out) + (spec.method == "dora" ? m.out : 0);
  }
  return per_layer * s.layers;
}

PhasePlan plan_peft_training(const MemoryPlan& svf, const PeftPlanSpec& spec) {
  PhasePlan ph;
  ph.phase = "train-" + spec.method;
  ph.budget_bytes = svf.train.budget_bytes;
  const int64_t n = peft_trainable_values(svf.shape, spec);
  uint64_t resident = 0, generate = 0, score = 0;
  auto starts = [](const std::string& s, const char* p) { return s.rfind(p, 0) == 0; };
  for (const auto& i : svf.train.items) {
    // the SVF-only parts: factors, z, the compose workspace, the z gradient
    if (i.name.find("SVF factors") != std::string::npos || i.name.find("z (fp32") != std::string::npos ||
        i.name.find("compose workspace") != std::string::npos || i.name.find("z gradient") != std::string::npos)
      continue;
    ph.items.push_back(i);
    if (starts(i.name, "resident: ")) resident += i.bytes;
    if (starts(i.name, "generate: ")) generate += i.bytes;
    if (starts(i.name, "score: ")) score += i.bytes;
  }
  const uint64_t adapter = static_cast<uint64_t>(n) * 4;
  ph.items.push_back({"resident: adapter (fp32)", adapter, fmt::format("{} trainable values x 4 B", n)});
  ph.items.push_back({"score: adapter gradient (fp32)", adapter, fmt::format("{} x 4 B", n)});
  resident += adapter;
  score += adapter;
  ph.total_bytes = resident + std::max(generate, score);
  ph.fits = ph.total_bytes <= ph.budget_bytes;
  return ph;
}

std::string peft_plan_text(const PhasePlan& ph, const PeftPlanSpec& spec, int64_t trainable) {
  std::string out = fmt::format("\n{} ({}, r {}, {} trainable values; bytes per rank):\n", ph.phase,
                                spec.modules == "all" ? "attention + MLP" : "attention", spec.r, trainable);
  for (const auto& i : ph.items) out += fmt::format("  {:<44} {:>12}\n", i.name, format_gb(i.bytes));
  out += fmt::format("  {:<44} {:>12}  of {}  -> {}\n", "total", format_gb(ph.total_bytes), format_gb(ph.budget_bytes),
                     ph.fits ? "FITS" : "DOES NOT FIT");
  return out;
}

}  // namespace t2
