#include "experts/svf-transfer.h"

#include <numeric>

#include "core/check.h"
#include "core/error.h"
#include "experts/rng.h"

namespace t2 {

SigmaOrder parse_sigma_order(const std::string& s) {
  if (s == "ordered") return SigmaOrder::ordered;
  if (s == "shuffled") return SigmaOrder::shuffled;
  throw UsageError("sigma_order must be ordered or shuffled, got '" + s + "'");
}

const char* sigma_order_name(SigmaOrder o) { return o == SigmaOrder::ordered ? "ordered" : "shuffled"; }

Expert expert_transfer(const Expert& e, const std::string& path, const ZLayout& target, const std::string& target_hash,
                       const std::string& target_model, const TransferSpec& spec) {
  T2_CHECK_AS(UsageError, !spec.transfer_from.empty(),
              "expert {} was trained on {} (hash {}), not on {}: cross-model transfer needs transfer_from: {} in the "
              "campaign",
              path, e.base_model, e.base_model_hash, target_model, e.base_model);
  T2_CHECK_AS(UsageError, spec.transfer_from == e.base_model || spec.transfer_from == e.base_model_hash,
              "transfer_from: {} does not name the base model of expert {} ({}, hash {})", spec.transfer_from, path,
              e.base_model, e.base_model_hash);
  const ZLayout& src = e.layout;
  for (size_t i = 0; i < std::max(src.names.size(), target.names.size()); ++i) {
    T2_CHECK_AS(UsageError, i < src.names.size() && i < target.names.size() && src.names[i] == target.names[i],
                "cannot transfer expert {} from {} to {}: adapted matrices differ at #{} ({} vs {})", path, e.base_model,
                target_model, i, i < src.names.size() ? src.names[i] : "none",
                i < target.names.size() ? target.names[i] : "none");
    T2_CHECK_AS(UsageError, src.sizes[i] == target.sizes[i],
                "cannot transfer expert {} from {} to {}: {} has rank {} on the source and {} on the target", path,
                e.base_model, target_model, src.names[i], src.sizes[i], target.sizes[i]);
  }
  Expert out = e;
  out.base_model = target_model;
  out.base_model_hash = target_hash;
  out.method = e.method + "+transfer";
  out.config = e.config + (e.config.empty() || e.config.back() == '\n' ? "" : "\n") +
               "transfer_from: " + e.base_model + "\ntransfer_from_hash: " + e.base_model_hash +
               "\nsigma_order: " + sigma_order_name(spec.order) + "\ntransfer_seed: " + std::to_string(spec.seed) + "\n";
  if (spec.order == SigmaOrder::ordered) return out;
  for (size_t i = 0; i < src.names.size(); ++i) {
    const int64_t k = src.sizes[i], off = src.offset(i);
    if (k < 2) continue;
    Rng rng(derive_seed(spec.seed, i));
    std::vector<int64_t> perm(static_cast<size_t>(k));
    bool identity = true;
    while (identity) {  // Fisher–Yates; an identity draw (likely only for tiny k) is redrawn
      std::iota(perm.begin(), perm.end(), 0);
      for (int64_t j = k - 1; j > 0; --j) std::swap(perm[static_cast<size_t>(j)], perm[static_cast<size_t>(rng.below(j + 1))]);
      for (int64_t j = 0; j < k && identity; ++j) identity = perm[static_cast<size_t>(j)] == j;
    }
    for (int64_t j = 0; j < k; ++j)
      out.z[static_cast<size_t>(off + j)] = e.z[static_cast<size_t>(off + perm[static_cast<size_t>(j)])];
  }
  return out;
}

}  // namespace t2
