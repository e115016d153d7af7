// Mixing experts: one-hot α reproduces the expert in multiplier mode, raw_z reproduces the reference
// code's linear mix of raw logits, all-zero α never yields NaN; and the batched population (one
// forward, per-sequence scales) equals composing each candidate's W' separately.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>

#include "experts/mixture.h"
#include "experts/mlp-policy.h"
#include "experts/svf-compose.h"

namespace t2 {
namespace {

ZLayout two_matrices() { return ZLayout{{"a", "b"}, {3, 2}}; }

TEST(Mixture, OneHotReproducesExpertAndRawZIsLinear) {
  auto l = two_matrices();
  std::vector<std::vector<float>> e{{0.1f, -0.2f, 0.3f, 1.0f, -1.0f}, {2.0f, 0.0f, -0.5f, 0.2f, 0.4f}};
  auto m = mixture_multipliers(e, l, {0.0, 1.0}, false, MixingMode::multiplier);
  auto expect = z_multipliers(e[1]);
  for (size_t i = 0; i < m.size(); ++i) EXPECT_FLOAT_EQ(m[i], expect[i]);
  // per matrix: α[k * P + p]
  auto raw = mixture_multipliers(e, l, {0.5, 0.0, 0.25, 1.0}, true, MixingMode::raw_z);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(raw[i], 0.5f * e[0][i] + 0.25f * e[1][i]);
  for (int i = 3; i < 5; ++i) EXPECT_FLOAT_EQ(raw[i], 1.0f * e[1][i]);
  EXPECT_THROW(mixing_mode_from_name("logits"), UsageError);
}

TEST(Mixture, AllZeroCoefficientsGiveBaseWeightsNotNaN) {
  MlpPolicy model(12, 6, 8, 2);
  auto l = model.layout();
  std::vector<std::vector<float>> e{z_init(l, 1, 0.1, 1.0), z_init(l, 2, 0.1, 1.0)};
  for (auto mode : {MixingMode::multiplier, MixingMode::raw_z}) {
    auto m = mixture_multipliers(e, l, std::vector<double>(2 * l.names.size(), 0.0), true, mode);
    auto mt = torch::tensor(m).unsqueeze(0);
    model.adapt_multipliers(mt);
    auto adapted = model.completion_log_softmax({{1, 2}}, {{3, 4, 5}});
    model.adapt_base();
    auto base = model.completion_log_softmax({{1, 2}}, {{3, 4, 5}});
    EXPECT_FALSE(adapted.isnan().any().item<bool>());
    EXPECT_TRUE(torch::allclose(adapted, base, 1e-4, 1e-5));
  }
}

// The "many experts in one batch" claim on a whole CEM population.
TEST(Mixture, BatchedPopulationEqualsCandidateByCandidate) {
  MlpPolicy model(20, 8, 24, 3);
  auto l = model.layout();
  std::vector<std::vector<float>> e{z_init(l, 1, 0.1, 0.8), z_init(l, 2, 0.1, 0.8), z_init(l, 3, 0.1, 0.8)};
  const int64_t P = 32;
  std::vector<torch::Tensor> rows;
  std::vector<TokenSeq> prompts, comps;
  for (int64_t p = 0; p < P; ++p) {
    std::vector<double> alpha(3 * l.names.size());
    for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = std::fmod(0.37 * (p + 1) * (i + 2), 1.0);
    rows.push_back(torch::tensor(mixture_multipliers(e, l, alpha, true, MixingMode::multiplier)));
    prompts.push_back({p % 20, (3 * p) % 20});
    comps.push_back({(5 * p) % 20, 7, (p + 1) % 20});
  }
  auto m = torch::stack(rows);
  model.adapt_multipliers(m);
  auto batched = model.completion_log_softmax(prompts, comps);
  for (int64_t p = 0; p < P; ++p) {
    // Reference: compose each matrix's W' for this candidate alone and run the plain dense layers.
    std::vector<torch::Tensor> Wp;
    for (size_t i = 0; i < l.names.size(); ++i)
      Wp.push_back(svf_compose(model.factors()[i], m[p].narrow(0, l.offset(i), l.sizes[i]), torch::kFloat32));
    model.adapt_dense(Wp);
    auto one = model.completion_log_softmax({prompts[p]}, {comps[p]});
    EXPECT_LE((batched[p] - one[0]).abs().max().item<double>(), 1e-4) << "candidate " << p;
  }
}

}  // namespace
}  // namespace t2
