#include "jobs/sweep.h"

namespace t2 {

std::vector<nlohmann::json> cartesian(const std::vector<SweepAxis>& axes) {
  std::vector<nlohmann::json> out = {nlohmann::json::object()};
  for (const auto& axis : axes) {
    std::vector<nlohmann::json> next;
    next.reserve(out.size() * axis.values.size());
    for (const auto& partial : out)
      for (const auto& v : axis.values) {
        nlohmann::json p = partial;
        p[axis.name] = v;
        next.push_back(std::move(p));
      }
    out = std::move(next);
  }
  return out;
}

std::string sweep_value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string sweep_label(const nlohmann::json& point, const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) {
    if (!point.contains(k)) continue;
    if (!s.empty()) s += ",";
    s += k + "=" + sweep_value_text(point.at(k));
  }
  return s;
}

}  // namespace t2
