#include "experts/mixture.h"

#include <cmath>

#include "core/check.h"

namespace t2 {

MixingMode mixing_mode_from_name(const std::string& n) {
  if (n == "multiplier") return MixingMode::multiplier;
  if (n == "logit") return MixingMode::logit;
  if (n == "raw_z") return MixingMode::raw_z;
  T2_FAIL_AS(UsageError, "unknown mixing '{}' (valid: multiplier = mix sigmoid(z), logit = sigmoid of the mixed z, "
             "raw_z = mix raw z as the reference code)", n);
}
std::string mixing_mode_name(MixingMode m) {
  switch (m) {
    case MixingMode::multiplier: return "multiplier";
    case MixingMode::logit: return "logit";
    case MixingMode::raw_z: return "raw_z";
  }
  return "?";
}

int64_t mixture_dim(int64_t experts, const ZLayout& layout, bool per_matrix) {
  return per_matrix ? experts * static_cast<int64_t>(layout.names.size()) : experts;
}

std::vector<float> mixture_multipliers(const std::vector<std::vector<float>>& experts, const ZLayout& layout,
                                       const std::vector<double>& alpha, bool per_matrix, MixingMode mode) {
  const int64_t K = static_cast<int64_t>(experts.size()), P = static_cast<int64_t>(layout.names.size());
  T2_CHECK(K > 0, "a mixture needs at least one expert");
  T2_CHECK(static_cast<int64_t>(alpha.size()) == mixture_dim(K, layout, per_matrix),
           "mixture: {} coefficients for {} experts x {} matrices (per_matrix {})", alpha.size(), K, P, per_matrix);
  std::vector<float> m(layout.total(), 0.0f);
  for (int64_t k = 0; k < K; ++k) {
    T2_CHECK(static_cast<int64_t>(experts[k].size()) == layout.total(), "expert {} has {} entries, the layout {}", k,
             experts[k].size(), layout.total());
    int64_t off = 0;
    for (int64_t p = 0; p < P; ++p) {
      const double a = per_matrix ? alpha[k * P + p] : alpha[k];
      for (int64_t i = 0; i < layout.sizes[p]; ++i) {
        const float z = experts[k][off + i];
        const double v = mode == MixingMode::multiplier ? 1.0 / (1.0 + std::exp(-static_cast<double>(z))) : z;
        m[off + i] += static_cast<float>(a * v);
      }
      off += layout.sizes[p];
    }
  }
  if (mode == MixingMode::logit)
    for (auto& v : m) v = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(v))));
  return m;
}

}  // namespace t2
