// REINFORCE on the small SVF policy: advantages, the loss against a direct evaluation, data-parallel
// shards, bit-identical resume from serialised state, and learning a synthetic reward (the fraction of
// generated tokens in a target set) far beyond seed-to-seed noise.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "experts/mlp-policy.h"
#include "experts/reinforce-step.h"
#include "experts/rng.h"

namespace t2 {
namespace {

constexpr int64_t kVocab = 16;

// Reward: fraction of completion tokens in {0, 1, 2, 3}.
double token_set_reward(const TokenSeq& c) {
  if (c.empty()) return 0;
  double hit = 0;
  for (auto t : c) hit += t < 4 ? 1 : 0;
  return hit / static_cast<double>(c.size());
}

std::vector<TokenSeq> make_prompts(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenSeq> p(n);
  for (auto& s : p)
    for (int i = 0; i < 3; ++i) s.push_back(rng.below(kVocab));
  return p;
}

ReinforceConfig small_config() {
  ReinforceConfig c;
  c.batch_size = 8;
  c.samples_per_prompt = 4;
  c.temperature = 1.0;
  c.max_new_tokens = 6;
  c.baseline = Baseline::group_mean;
  c.optimizer.lr = 0.05;
  c.optimizer.clip_norm = 1e-3;
  c.steps = 30;
  c.eval_every = 10;
  c.seed = 7;
  return c;
}

// One full step as the coordinator drives it, with the batch split into `shards` shards.
ReinforceState train_step(MlpPolicy& model, ReinforceState s, const ReinforceConfig& c,
                          const std::vector<TokenSeq>& train, int shards = 1) {
  auto batch = reinforce_next_batch(s, c);
  std::vector<TokenSeq> prompts;
  for (auto i : batch.examples) prompts.push_back(train[i]);
  auto ro = reinforce_rollout(model, s.z, prompts, c, batch.rollout_seed);
  std::vector<double> rewards;
  for (auto& comp : ro.completions) rewards.push_back(token_set_reward(comp));
  auto adv = reinforce_advantages(rewards, ro.group_of, c.baseline);
  const int64_t N = static_cast<int64_t>(rewards.size());
  ShardGradient total;
  for (int k = 0; k < shards; ++k) {
    const int64_t lo = N * k / shards, hi = N * (k + 1) / shards;
    std::vector<TokenSeq> p(ro.prompts.begin() + lo, ro.prompts.begin() + hi);
    std::vector<TokenSeq> comp(ro.completions.begin() + lo, ro.completions.begin() + hi);
    std::vector<double> a(adv.begin() + lo, adv.begin() + hi);
    total = shard_gradient_add(total, reinforce_shard_gradient(model, s.z, p, comp, a, N, c));
  }
  return reinforce_apply(std::move(s), c, total, rewards);
}

double mean_reward(MlpPolicy& model, const std::vector<float>& z, const std::vector<TokenSeq>& prompts,
                   uint64_t seed) {
  ReinforceConfig c = small_config();
  auto ro = reinforce_rollout(model, z, prompts, c, seed);
  double sum = 0;
  for (auto& comp : ro.completions) sum += token_set_reward(comp);
  return sum / static_cast<double>(ro.completions.size());
}

TEST(Reinforce, Advantages) {
  std::vector<double> r{1, -1, 1, 1, -1, -1};
  std::vector<int64_t> g{0, 0, 1, 1, 2, 2};
  EXPECT_EQ(reinforce_advantages(r, g, Baseline::none), r);
  auto b = reinforce_advantages(r, g, Baseline::batch_mean);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_DOUBLE_EQ(b[i], r[i]);  // mean is 0
  auto gm = reinforce_advantages(r, g, Baseline::group_mean);
  std::vector<double> expect{1, -1, 0, 0, 0, 0};
  EXPECT_EQ(gm, expect);
  std::vector<double> r2{2, 4};
  EXPECT_EQ(reinforce_advantages(r2, {0, 0}, Baseline::batch_mean), (std::vector<double>{-1, 1}));
}

TEST(Reinforce, LossMatchesDirectEvaluationForBothKlDirections) {
  torch::manual_seed(3);
  auto pol = torch::log_softmax(torch::randn({2, 3, 5}, torch::kFloat64), -1);
  auto ref = torch::log_softmax(torch::randn({2, 3, 5}, torch::kFloat64), -1);
  std::vector<TokenSeq> comp{{1, 4, 2}, {3}};
  std::vector<double> adv{0.5, -2.0};
  for (auto dir : {KlDirection::ref_policy, KlDirection::policy_ref}) {
    auto p = reinforce_loss(pol, comp, adv, 4, 0.3, dir, ref);
    double expect = 0;
    for (int b = 0; b < 2; ++b) {
      double lp = 0, kl = 0;
      for (size_t t = 0; t < comp[b].size(); ++t) {
        lp += pol[b][t][comp[b][t]].item<double>();
        for (int v = 0; v < 5; ++v) {
          double lq = pol[b][t][v].item<double>(), lr = ref[b][t][v].item<double>();
          kl += dir == KlDirection::ref_policy ? std::exp(lr) * (lr - lq) : std::exp(lq) * (lq - lr);
        }
      }
      expect += -lp * adv[b] + 0.3 * kl;
    }
    EXPECT_NEAR(p.loss.item<double>(), expect / 4, 1e-12);
  }
}

TEST(Reinforce, TwoShardsGiveTheSameUpdateAsOne) {
  MlpPolicy model(kVocab, 8, 16, 1);
  auto c = small_config();
  c.kl_coeff = 0.1;
  auto train = make_prompts(32, 5);
  auto s0 = reinforce_init(model.layout(), z_init(model.layout(), 11), 32, c);
  auto one = train_step(model, s0, c, train, 1);
  auto two = train_step(model, s0, c, train, 2);
  auto three = train_step(model, s0, c, train, 3);
  ASSERT_EQ(one.z.size(), two.z.size());
  double diff2 = 0, diff3 = 0, moved = 0;
  for (size_t i = 0; i < one.z.size(); ++i) {
    diff2 = std::max<double>(diff2, std::abs(one.z[i] - two.z[i]));
    diff3 = std::max<double>(diff3, std::abs(one.z[i] - three.z[i]));
    moved = std::max<double>(moved, std::abs(one.z[i] - s0.z[i]));
  }
  EXPECT_LE(diff2, 1e-6);
  EXPECT_LE(diff3, 1e-6);
  EXPECT_GT(moved, 1e-3);  // the step did something
}

TEST(Reinforce, ResumeFromBytesIsBitIdentical) {
  MlpPolicy model(kVocab, 8, 16, 2);
  auto c = small_config();
  c.kl_coeff = 0.05;
  c.kl_direction = KlDirection::policy_ref;
  c.batch_size = 12;  // epochs of 20 prompts wrap inside a step
  c.optimizer = optimizer_paper_defaults(6);
  auto train = make_prompts(20, 9);
  auto s = reinforce_init(model.layout(), z_init(model.layout(), 3), 20, c);
  auto straight = s;
  for (int i = 0; i < 6; ++i) straight = train_step(model, straight, c, train);
  auto part = s;
  for (int i = 0; i < 3; ++i) part = train_step(model, part, c, train);
  part = reinforce_record_validation(part, 0.25);
  auto bytes = reinforce_state_to_bytes(part);
  auto resumed = reinforce_state_from_bytes(bytes, "test state");
  EXPECT_EQ(reinforce_state_to_bytes(resumed), bytes);
  for (int i = 0; i < 3; ++i) resumed = train_step(model, resumed, c, train);
  ASSERT_EQ(resumed.z.size(), straight.z.size());
  EXPECT_EQ(0, std::memcmp(resumed.z.data(), straight.z.data(), straight.z.size() * sizeof(float)));
  EXPECT_EQ(resumed.opt.m, straight.opt.m);
  EXPECT_EQ(resumed.cursor, straight.cursor);
  EXPECT_EQ(resumed.best_step, 3);
  // A truncated buffer is a FormatError that names the offset.
  try {
    reinforce_state_from_bytes(bytes.substr(0, bytes.size() / 2), "ckpt.bin");
    FAIL() << "truncated state accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset"), std::string::npos) << e.what();
  }
}

// A rollout that ended on a stop string gets the same z-gradient and log-likelihood as the same answer
// without it: the tokens that spelled the stop string (the worker counts them, workers/stop-strings.h) are cut first.
TEST(Reinforce, StopStringTokensGetNoGradient) {
  MlpPolicy model(kVocab, 8, 16, 4);
  auto c = small_config();
  auto z = z_init(model.layout(), 5);
  std::vector<TokenSeq> prompts{{1, 2, 3}, {4, 5}};
  TokenSeq answer0{6, 7, 8}, answer1{9, 3};
  TokenSeq with_stop = answer0;
  for (int64_t t : {11, 12}) with_stop.push_back(t);  // the tokens of, say, "Response:"
  std::vector<double> adv{1.0, -1.0};
  auto clean = reinforce_shard_gradient(model, z, prompts, {answer0, answer1}, adv, 2, c);
  auto cut = reinforce_shard_gradient(model, z, prompts, {answer_tokens(with_stop, 2), answer_tokens(answer1, 0)},
                                      adv, 2, c);
  auto uncut = reinforce_shard_gradient(model, z, prompts, {with_stop, answer1}, adv, 2, c);
  EXPECT_EQ(cut.grad, clean.grad);
  EXPECT_EQ(cut.logp, clean.logp);
  EXPECT_EQ(cut.loss, clean.loss);
  EXPECT_NE(uncut.grad, clean.grad);  // kept, the stop string's tokens would be trained too
  EXPECT_THROW(answer_tokens(answer1, 3), Error);
}

// The reference validates at the end of its iterations 0, 10, 20, ...: after updates 1, 11, 21; t2
// adds the last. The initial z is never validated, so it cannot be selected as the expert.
TEST(Reinforce, FirstValidationComesAfterTheFirstUpdate) {
  MlpPolicy model(kVocab, 8, 16, 4);
  auto c = small_config();
  c.eval_every = 10;
  c.steps = 25;
  auto s = reinforce_init(model.layout(), z_init(model.layout(), 5), 64, c);
  EXPECT_FALSE(reinforce_should_validate(s, c));  // step 0: nothing trained yet
  std::vector<int64_t> at;
  for (int64_t k = 1; k <= c.steps; ++k) {
    s.step = k;
    if (reinforce_should_validate(s, c)) at.push_back(k);
  }
  EXPECT_EQ(at, (std::vector<int64_t>{1, 11, 21, 25}));
}

TEST(Reinforce, LearnsSyntheticTokenSetRewardBeyondNoise) {
  MlpPolicy model(kVocab, 8, 16, 4);
  auto c = small_config();
  auto train = make_prompts(64, 21), valid = make_prompts(48, 22);
  auto s = reinforce_init(model.layout(), z_init(model.layout(), 5), 64, c);
  // Seed-to-seed noise of the validation estimate at the initial z.
  std::vector<double> init;
  for (uint64_t seed = 100; seed < 105; ++seed) init.push_back(mean_reward(model, s.z, valid, seed));
  double mu = 0, sd = 0;
  for (double v : init) mu += v;
  mu /= init.size();
  for (double v : init) sd += (v - mu) * (v - mu);
  sd = std::sqrt(sd / (init.size() - 1));
  while (!reinforce_done(s, c)) {
    s = train_step(model, s, c, train);
    if (reinforce_should_validate(s, c)) s = reinforce_record_validation(s, mean_reward(model, s.z, valid, 100));
  }
  double after = mean_reward(model, s.best_z, valid, 100);
  std::printf("token-set reward: before %.3f ± %.3f, after %.3f (best at step %lld)\n", mu, sd, after,
              static_cast<long long>(s.best_step));
  EXPECT_GT(after - mu, std::max(6 * sd, 0.15));
  EXPECT_EQ(s.best_score, mean_reward(model, s.best_z, valid, 100));
}

}  // namespace
}  // namespace t2
