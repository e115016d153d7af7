#include "coordinator/work-deadlines.h"

namespace t2 {

WorkDeadlines WorkDeadlines::from_campaign(const Campaign& c) {
  auto get = [&](const char* key, Seconds fallback) {
    auto it = c.timeouts.find(key);
    return it == c.timeouts.end() ? fallback : Seconds(it->second);
  };
  WorkDeadlines d;
  const Seconds base = get("control_message", timeouts::control_message);
  d.load = get("model_load", timeouts::model_load);
  d.decompose = get("decompose", base);
  d.generate = get("generate", base);
  d.gradient = get("gradient", base);
  d.evaluation_batch = get("evaluation_batch", base);
  d.cem_chunk = get("cem_chunk", base);
  return d;
}

std::string WorkDeadlines::kind_of(const std::string& job_kind, const std::string& item_kind) {
  if (item_kind == "decompose") return "decompose";
  if (item_kind == "grad") return "gradient";
  if (item_kind == "cem") return "cem_chunk";
  if (item_kind == "generate") return job_kind == "evaluate" ? "evaluation_batch" : "generate";
  return "generate";
}

Seconds WorkDeadlines::of(const std::string& job_kind, const std::string& item_kind) const {
  const std::string k = kind_of(job_kind, item_kind);
  if (k == "decompose") return decompose;
  if (k == "gradient") return gradient;
  if (k == "cem_chunk") return cem_chunk;
  if (k == "evaluation_batch") return evaluation_batch;
  return generate;
}

}  // namespace t2
