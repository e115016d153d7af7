// Mixing experts: one-hot α reproduces the expert in multiplier and logit mode, raw_z reproduces the
// reference code's linear mix of raw logits, logit mixing adds the experts' changes where multiplier
// mixing (scale-blind under the composition's rescale) only interpolates, all-zero α never yields NaN; and the batched population (one
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
  // logit: sigmoid of the mixed z, so one-hot is expert k again
  auto lg = mixture_multipliers(e, l, {1.0, 0.0}, false, MixingMode::logit);
  auto e0 = z_multipliers(e[0]);
  for (size_t i = 0; i < lg.size(); ++i) EXPECT_FLOAT_EQ(lg[i], e0[i]);
  lg = mixture_multipliers(e, l, {0.5, 0.0, 0.25, 1.0}, true, MixingMode::logit);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(lg[i], 1.0 / (1.0 + std::exp(-(0.5 * e[0][i] + 0.25 * e[1][i]))), 1e-6);
  EXPECT_EQ(mixing_mode_name(mixing_mode_from_name("logit")), "logit");
}

// Two experts that each move one singular value from a common start z0 (0.1, the init): mixing
// multipliers with α = (1, 1) is (½, ½) up to scale, which the composition divides out, so each
// expert's change is roughly halved; mixing logits with α = (1, 1) keeps most of both changes (all of
// them but the sigmoid's curvature).
TEST(Mixture, LogitMixingAddsChangesMultiplierMixingInterpolates) {
  ZLayout l{{"w"}, {3}};
  const float z0 = 0.1f, d = 2.0f;
  std::vector<std::vector<float>> e{{z0 + d, z0, z0}, {z0, z0 + d, z0}};
  // Relative multipliers after the composition's rescale: m / mean(m) (equal σ).
  auto relative = [](std::vector<float> m) {
    double s = 0;
    for (float v : m) s += v;
    for (float& v : m) v = static_cast<float>(v * m.size() / s);
    return m;
  };
  auto one = relative(z_multipliers(e[0]));
  auto mult = relative(mixture_multipliers(e, l, {1.0, 1.0}, false, MixingMode::multiplier));
  auto half = relative(mixture_multipliers(e, l, {0.5, 0.5}, false, MixingMode::multiplier));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(mult[i], half[i], 1e-6);  // scale-blind: (1,1) == (½,½)
  // expert 0's boost of singular value 0 over value 2 (log ratio): alone 0.53, multiplier mixing 0.30,
  // logit mixing 0.49; and expert 1's boost of value 1 the same by symmetry
  auto lgt = relative(mixture_multipliers(e, l, {1.0, 1.0}, false, MixingMode::logit));
  const double alone = std::log(one[0] / one[2]);
  EXPECT_LT(std::log(mult[0] / mult[2]), 0.7 * alone);
  EXPECT_GT(std::log(lgt[0] / lgt[2]), 0.9 * alone);
  EXPECT_GT(std::log(lgt[1] / lgt[2]), 0.9 * alone);
}

TEST(Mixture, AllZeroCoefficientsGiveBaseWeightsNotNaN) {
  MlpPolicy model(12, 6, 8, 2);
  auto l = model.layout();
  std::vector<std::vector<float>> e{z_init(l, 1, 0.1, 1.0), z_init(l, 2, 0.1, 1.0)};
  for (auto mode : {MixingMode::multiplier, MixingMode::logit, MixingMode::raw_z}) {
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
