#include "experts/dispatch.h"

#include "core/check.h"
#include "jobs/task.h"

namespace t2 {

// One source of truth for the prompt text: the task suite's copy (jobs/task.h), byte for byte as the
// reference writes it, trailing indentation of the closing triple quote included.
const std::string& dispatch_classification_prompt() {
  static const std::string p = tasks::prompts::classify_system;
  return p;
}

std::string dispatch_label(const std::string& response) {
  // First match of \\boxed{([^}]*)}.
  const std::string key = "\\boxed{";
  auto at = response.find(key);
  if (at == std::string::npos) return "other";
  auto start = at + key.size();
  auto end = response.find('}', start);
  if (end == std::string::npos) return "other";
  auto label = response.substr(start, end - start);
  if (label == "code" || label == "math" || label == "reasoning") return label;
  return "other";
}

DispatchCompat dispatch_compat_from_name(const std::string& n) {
  if (n == "fixed") return DispatchCompat::fixed;
  if (n == "original") return DispatchCompat::original;
  T2_FAIL_AS(UsageError, "unknown dispatch compat '{}' (valid: fixed = 'other' uses the base weights, original = "
             "the last loaded expert as the reference code)", n);
}

int dispatch_route(const std::string& label, const std::map<std::string, int>& experts, DispatchCompat compat,
                   int last_loaded) {
  auto it = experts.find(label);
  if (it != experts.end()) return it->second;
  return compat == DispatchCompat::original ? last_loaded : -1;
}

ClsSplit dispatch_cls_dataset(const std::vector<std::string>& math, const std::vector<std::string>& code,
                              const std::vector<std::string>& reasoning, size_t per_source) {
  std::vector<ClsExample> all;
  auto add = [&](const std::vector<std::string>& src, const char* label) {
    for (size_t i = 0; i < src.size() && i < per_source; ++i) all.push_back({src[i], label});
  };
  add(math, "math");
  add(code, "code");
  add(reasoning, "reasoning");
  ClsSplit s;
  size_t train_i = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i % 5 < 4) {
      (train_i % 2 == 0 ? s.train : s.valid).push_back(all[i]);
      ++train_i;
    } else {
      s.test.push_back(all[i]);
    }
  }
  return s;
}

double dispatch_cls_reward(const std::string& response, const std::string& label) {
  return dispatch_label(response) == label ? 1.0 : -1.0;
}

}  // namespace t2
