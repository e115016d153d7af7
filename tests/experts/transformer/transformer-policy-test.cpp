// TransformerPolicy on a fixture transformer decomposed by decompose_model: uniform multipliers give
// the base model back, the closed-form z-gradient matches plain autograd and central finite
// differences (no base weight gets a gradient), per-sequence multipliers equal each expert composed
// densely on its own, TP=2 (threads) equals TP=1 with the policy's all-reduced dL/dz, REINFORCE learns
// a synthetic reward beyond seed noise, and resuming from serialised state is bit-identical.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "experts/decompose.h"
#include "experts/reinforce-step.h"
#include "experts/rng.h"
#include "experts/svf-compose.h"
#include "experts/transformer-policy.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "tests/workers/runtime/thread-communicator.h"
#include "workers/model.h"

namespace t2 {
namespace {

const std::vector<std::string> kFixture = {"--family", "llama", "--seed", "31", "--hidden", "64", "--layers", "2",
                                           "--heads", "4", "--kv-heads", "2", "--intermediate", "96", "--vocab", "64"};

// The fixture folder with its SVD factors (MODEL_DIR/t2-svd) for TP degree `tp`.
std::string fixture_with_svd(int tp = 1) {
  auto dir = test::make_fixture("policy-llama", kFixture);
  DecomposeOptions o;
  o.tp = tp;
  o.out_dir = dir + "/t2-svd";
  o.fp64 = true;  // float64 factors: the reconstruction error stays far below the 1e-5 checks
  decompose_model(dir, o);
  return dir;
}

torch::Tensor vec(const std::vector<float>& v) {
  return torch::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kFloat32).clone();
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

std::vector<TokenSeq> seqs(int n, int len, int vocab, uint32_t seed) {
  std::vector<TokenSeq> out;
  for (int i = 0; i < n; ++i) {
    auto ids = test::some_ids(len + i % 3, vocab, seed + static_cast<uint32_t>(i));
    out.emplace_back(ids.begin(), ids.end());
  }
  return out;
}

std::vector<std::vector<int32_t>> ids32(const std::vector<TokenSeq>& v) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& s : v) out.emplace_back(s.begin(), s.end());
  return out;
}

// A loss with a fixed random weight per (b, t, v): mixes every log-prob of the batch.
torch::Tensor weighted_loss(const torch::Tensor& lsm, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto w = at::randn(lsm.sizes(), gen);
  return (lsm * w).sum();
}

TEST(TransformerPolicy, LayoutHashAndErrors) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  TransformerPolicy pol(*model, dir + "/t2-svd");
  auto l = pol.layout();
  ASSERT_EQ(l.names.size(), 6u);
  EXPECT_EQ(l.names[0], "model.layers.0.mlp.gate_proj");
  EXPECT_EQ(l.names[1], "model.layers.0.mlp.up_proj");
  EXPECT_EQ(l.names[2], "model.layers.0.mlp.down_proj");
  for (auto k : l.sizes) EXPECT_EQ(k, 64);
  EXPECT_EQ(pol.source_hash().size(), 16u);
  EXPECT_EQ(pol.vocab_size(), 64);
  EXPECT_THROW(TransformerPolicy(*model, dir + "/t2-svd", "0123456789abcdef"), UsageError);
  EXPECT_THROW(TransformerPolicy(*model, dir + "/nowhere"), UsageError);
  EXPECT_THROW(pol.adapt_z(torch::zeros({l.total() - 1})), UsageError);
}

TEST(TransformerPolicy, UniformMultipliersAndBaseReproduceThePlainModel) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  auto ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 33, 2, 60, 7, 8, 11, 3}).view({2, 5});
  torch::NoGradGuard ng;
  auto plain = model->forward_logits(ids);
  TransformerPolicy pol(*model, dir + "/t2-svd");
  const int64_t total = pol.layout().total();
  pol.adapt_multipliers(torch::full({total}, 0.37f));
  EXPECT_LE(max_abs_diff(model->forward_logits(ids), plain), 1e-5);
  // one uniform value per sequence, many in one batch
  pol.adapt_multipliers(torch::tensor(std::vector<float>{0.9f, 0.2f}).unsqueeze(1).expand({2, total}).contiguous());
  EXPECT_LE(max_abs_diff(model->forward_logits(ids), plain), 1e-5);
  pol.adapt_expert(std::vector<float>(static_cast<size_t>(total), -3.0f));
  EXPECT_LE(max_abs_diff(model->forward_logits(ids), plain), 1e-5);
  pol.adapt_base();
  EXPECT_TRUE(torch::equal(model->forward_logits(ids), plain));  // no adapter at all: bit for bit
  // generation: uniform adaptation gives the plain model's greedy tokens
  std::vector<TokenSeq> prompts = seqs(3, 4, 64, 7);
  SampleOptions so;
  so.max_new_tokens = 12;
  auto base_gen = pol.generate(prompts, so, 0);
  pol.adapt_multipliers(torch::full({total}, 0.6f));
  EXPECT_EQ(pol.generate(prompts, so, 0), base_gen);
}

// The same SVF layer through plain autograd (svf_scale of sigmoid(z)), as a reference for the
// closed-form backward.
struct AutogradSvf : LinearAdapter {
  SvfFactors f;
  torch::Tensor z;
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& row_of) override {
    return svf_factored_forward(f, x, svf_scale(f.S, torch::sigmoid(z)), row_of);
  }
};

TEST(TransformerPolicy, ZGradientMatchesAutogradAndFiniteDifferencesWithoutBaseGrads) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  TransformerPolicy pol(*model, dir + "/t2-svd");
  auto layout = pol.layout();
  auto prompts = seqs(3, 5, 64, 100), comps = seqs(3, 4, 64, 200);
  comps[1].resize(2);  // ragged completions: padding rows are zero and carry no gradient
  auto z0 = vec(z_init(layout, 5, 0.1, 0.5));

  auto z = z0.clone().requires_grad_(true);
  pol.adapt_z(z);
  auto lsm = pol.completion_log_softmax(prompts, comps);
  ASSERT_EQ(lsm.sizes(), (std::vector<int64_t>{3, 6, 64}));  // completions of 4, 2 and 6 tokens
  EXPECT_EQ(lsm[1].narrow(0, 2, 4).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(lsm[0].narrow(0, 4, 2).abs().sum().item<double>(), 0.0);
  auto loss = weighted_loss(lsm, 9);
  loss.backward();
  auto g = z.grad().clone();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().max().item<double>(), 0.0);
  for (const auto& info : model->linear_infos()) {
    EXPECT_FALSE(model->weight(info.name).requires_grad()) << info.name;
    EXPECT_FALSE(model->weight(info.name).grad().defined()) << info.name;
  }
  pol.adapt_base();

  // plain autograd through the factored form
  {
    auto zr = z0.clone().requires_grad_(true);
    std::vector<std::shared_ptr<AutogradSvf>> ads;
    for (size_t i = 0; i < layout.names.size(); ++i) {
      auto a = std::make_shared<AutogradSvf>();
      a->f = pol.shard().factors[i];
      a->z = zr.narrow(0, layout.offset(i), layout.sizes[i]);
      model->set_adapter(layout.names[i], a);
      ads.push_back(a);
    }
    weighted_loss(model->completion_log_softmax(ids32(prompts), ids32(comps)), 9).backward();
    model->clear_adapters();
    double rel = (zr.grad() - g).norm().item<double>() / g.norm().item<double>();
    std::printf("closed-form vs autograd dL/dz: rel err %.2e\n", rel);
    EXPECT_LE(rel, 1e-5);
  }

  // central finite differences (4th order) along random directions
  auto L = [&](const torch::Tensor& zz) {
    torch::NoGradGuard ng;
    pol.adapt_z(zz);
    auto v = weighted_loss(pol.completion_log_softmax(prompts, comps), 9).item<double>();
    pol.adapt_base();
    return v;
  };
  auto gen = at::detail::createCPUGenerator(17);
  double worst = 0;
  for (int k = 0; k < 4; ++k) {
    auto d = at::randn({layout.total()}, gen);
    if (k >= 2) d = d * (torch::arange(layout.total()) < layout.sizes[0] * (k - 1)).to(torch::kFloat);  // sparser
    d = d / d.norm();
    const double h = 0.05;
    double fd = (-L(z0 + 2 * h * d) + 8 * L(z0 + h * d) - 8 * L(z0 - h * d) + L(z0 - 2 * h * d)) / (12 * h);
    double an = (g * d).sum().item<double>();
    double rel = std::abs(fd - an) / std::max(std::abs(an), 1e-12);
    std::printf("direction %d: analytic %.6f, finite differences %.6f, rel err %.2e\n", k, an, fd, rel);
    worst = std::max(worst, rel);
  }
  EXPECT_LE(worst, 1e-3);
}

TEST(TransformerPolicy, PerSequenceMultipliersEqualEachExpertComposedSeparately) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  TransformerPolicy pol(*model, dir + "/t2-svd");
  auto layout = pol.layout();
  std::vector<std::vector<float>> experts = {z_init(layout, 1, 0.0, 1.5), z_init(layout, 2, 0.5, 1.5),
                                             z_init(layout, 3, -0.5, 1.5)};
  auto prompts = seqs(3, 5, 64, 300), comps = seqs(3, 6, 64, 400);
  torch::NoGradGuard ng;
  pol.adapt_experts(experts);
  auto batched = pol.completion_log_softmax(prompts, comps);
  SampleOptions so;
  so.max_new_tokens = 10;
  auto batched_gen = pol.generate(prompts, so, 0);
  pol.adapt_base();
  std::vector<torch::Tensor> originals;
  for (const auto& n : layout.names) originals.push_back(model->weight(n).clone());
  for (size_t k = 0; k < experts.size(); ++k) {
    // dense W' = U·diag(c·σ⊙m)·Vᵀ set into the model: a different code path from the factored one
    auto m = torch::sigmoid(vec(experts[k]));
    for (size_t i = 0; i < layout.names.size(); ++i)
      model->set_weight(layout.names[i],
                        svf_compose(pol.shard().factors[i], m.narrow(0, layout.offset(i), layout.sizes[i]), torch::kFloat));
    auto one = model->completion_log_softmax(ids32({prompts[k]}), ids32({comps[k]}));
    const int64_t n = static_cast<int64_t>(comps[k].size());
    EXPECT_LE(max_abs_diff(one[0], batched[static_cast<int64_t>(k)].narrow(0, 0, n)), 1e-4) << "expert " << k;
    GenerateOptions go;
    go.max_new_tokens = 10;
    auto g = model->generate(ids32({prompts[k]}), go);
    EXPECT_EQ(TokenSeq(g[0].ids.begin(), g[0].ids.end()), batched_gen[k]) << "expert " << k;
  }
  for (size_t i = 0; i < layout.names.size(); ++i) model->set_weight(layout.names[i], originals[i]);
  // mixtures in multiplier space: a row of multipliers per sequence
  std::vector<std::vector<float>> mult;
  for (auto& z : experts) mult.push_back(z_multipliers(z));
  pol.adapt_multipliers_per_sequence(mult);
  EXPECT_LE(max_abs_diff(pol.completion_log_softmax(prompts, comps), batched), 1e-5);
}

TEST(TransformerPolicy, TensorParallelRanksGetTheFullZGradient) {
  auto dir = fixture_with_svd(1);
  fixture_with_svd(2);
  auto prompts = seqs(2, 5, 64, 500), comps = seqs(2, 4, 64, 600);
  torch::Tensor ref_grad, ref_lsm;
  std::vector<float> z0;
  std::vector<TokenSeq> ref_gen;
  SampleOptions so;
  so.max_new_tokens = 8;
  {
    auto model = Model::load(dir, {});
    TransformerPolicy pol(*model, dir + "/t2-svd");
    z0 = z_init(pol.layout(), 8, 0.1, 1.0);
    auto z = vec(z0).requires_grad_(true);
    pol.adapt_z(z);
    ref_lsm = pol.completion_log_softmax(prompts, comps);
    weighted_loss(ref_lsm, 3).backward();
    ref_grad = z.grad().clone();
    ref_gen = pol.generate(prompts, so, 0);
  }
  std::vector<torch::Tensor> grads(2), lsms(2);
  std::vector<std::vector<TokenSeq>> gens(2);
  test::run_on_ranks(2, [&](int r, Communicator& comm) {
    LoadOptions lo;
    lo.tp_comm = &comm;
    auto model = Model::load(dir, lo);
    TransformerPolicy pol(*model, dir + "/t2-svd");
    EXPECT_EQ(pol.shard().tp_size, 2);
    auto z = vec(z0).requires_grad_(true);
    pol.adapt_z(z);
    lsms[static_cast<size_t>(r)] = pol.completion_log_softmax(prompts, comps);
    weighted_loss(lsms[static_cast<size_t>(r)], 3).backward();
    grads[static_cast<size_t>(r)] = z.grad().clone();
    gens[static_cast<size_t>(r)] = pol.generate(prompts, so, 0);
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_LE(max_abs_diff(lsms[static_cast<size_t>(r)].detach(), ref_lsm.detach()), 1e-5) << "rank " << r;
    double rel = (grads[static_cast<size_t>(r)] - ref_grad).norm().item<double>() / ref_grad.norm().item<double>();
    EXPECT_LE(rel, 1e-4) << "rank " << r << ": dL/dz must be the TP group's full gradient";
    EXPECT_EQ(gens[static_cast<size_t>(r)], ref_gen) << "rank " << r;
  }
}

// Per-layer recomputation (Model::set_layer_recompute) reruns the same operations in backward: the
// log-softmax and dL/dz equal those of the graph that keeps every layer's activations, on one rank
// and on each rank of a TP group (where the rerun layers all-reduce again).
TEST(TransformerPolicy, LayerRecomputeGivesTheSameZGradientOnOneAndTwoRanks) {
  auto dir = fixture_with_svd(1);
  fixture_with_svd(2);
  auto prompts = seqs(3, 5, 64, 700), comps = seqs(3, 4, 64, 800);
  std::vector<float> z0;
  auto run = [&](TransformerPolicy& pol, bool recompute) {
    pol.set_layer_recompute(recompute);
    auto z = vec(z0).requires_grad_(true);
    pol.adapt_z(z);
    EXPECT_EQ(pol.model().layer_recompute(), recompute);
    auto lsm = pol.completion_log_softmax(prompts, comps);
    weighted_loss(lsm, 3).backward();
    pol.adapt_base();
    EXPECT_FALSE(pol.model().layer_recompute());
    return std::make_pair(lsm.detach(), z.grad().clone());
  };
  {
    auto model = Model::load(dir, {});
    TransformerPolicy pol(*model, dir + "/t2-svd");
    z0 = z_init(pol.layout(), 8, 0.1, 1.0);
    auto keep = run(pol, false), again = run(pol, true);
    EXPECT_LE(max_abs_diff(again.first, keep.first), 1e-6);
    ASSERT_GT(keep.second.norm().item<double>(), 0);
    EXPECT_LE((again.second - keep.second).abs().max().item<double>(), 1e-6 * keep.second.abs().max().item<double>());
  }
  std::vector<torch::Tensor> keep(2), again(2);
  test::run_on_ranks(2, [&](int r, Communicator& comm) {
    LoadOptions lo;
    lo.tp_comm = &comm;
    auto model = Model::load(dir, lo);
    TransformerPolicy pol(*model, dir + "/t2-svd");
    keep[static_cast<size_t>(r)] = run(pol, false).second;
    again[static_cast<size_t>(r)] = run(pol, true).second;
  });
  for (int r = 0; r < 2; ++r)
    EXPECT_LE((again[static_cast<size_t>(r)] - keep[static_cast<size_t>(r)]).abs().max().item<double>(),
              1e-6 * keep[static_cast<size_t>(r)].abs().max().item<double>())
        << "rank " << r;
}

// ---------------------------------------------------------------- REINFORCE on the transformer

// Reward: fraction of completion tokens in the target set (ids below 16 of the 64).
double token_set_reward(const TokenSeq& c) {
  if (c.empty()) return 0;
  double hit = 0;
  for (auto t : c) hit += t < 16 ? 1 : 0;
  return hit / static_cast<double>(c.size());
}

std::vector<TokenSeq> make_prompts(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenSeq> p(static_cast<size_t>(n));
  for (auto& s : p)
    for (int i = 0; i < 3; ++i) s.push_back(static_cast<int64_t>(rng.below(64)));
  return p;
}

ReinforceConfig small_config() {
  ReinforceConfig c;
  c.batch_size = 8;
  c.samples_per_prompt = 4;
  c.temperature = 1.0;
  c.max_new_tokens = 6;
  c.baseline = Baseline::group_mean;
  c.optimizer.lr = 0.1;
  c.optimizer.clip_norm = 1e-3;
  c.steps = 40;
  c.eval_every = 10;
  c.seed = 7;
  return c;
}

ReinforceState train_step(PolicyModel& model, ReinforceState s, const ReinforceConfig& c,
                          const std::vector<TokenSeq>& train) {
  auto batch = reinforce_next_batch(s, c);
  std::vector<TokenSeq> prompts;
  for (auto i : batch.examples) prompts.push_back(train[static_cast<size_t>(i)]);
  auto ro = reinforce_rollout(model, s.z, prompts, c, batch.rollout_seed);
  std::vector<double> rewards;
  for (auto& comp : ro.completions) rewards.push_back(token_set_reward(comp));
  auto adv = reinforce_advantages(rewards, ro.group_of, c.baseline);
  auto g = reinforce_shard_gradient(model, s.z, ro.prompts, ro.completions, adv,
                                    static_cast<int64_t>(rewards.size()), c);
  return reinforce_apply(std::move(s), c, g, rewards);
}

double mean_reward(PolicyModel& model, const std::vector<float>& z, const std::vector<TokenSeq>& prompts,
                   uint64_t seed) {
  ReinforceConfig c = small_config();
  auto ro = reinforce_rollout(model, z, prompts, c, seed);
  double sum = 0;
  for (auto& comp : ro.completions) sum += token_set_reward(comp);
  return sum / static_cast<double>(ro.completions.size());
}

TEST(TransformerPolicy, ReinforceLearnsSyntheticTokenSetRewardBeyondNoise) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  TransformerPolicy pol(*model, dir + "/t2-svd");
  auto c = small_config();
  auto train = make_prompts(64, 21), valid = make_prompts(48, 22);
  auto s = reinforce_init(pol.layout(), z_init(pol.layout(), 5), 64, c);
  std::vector<double> init;
  for (uint64_t seed = 100; seed < 105; ++seed) init.push_back(mean_reward(pol, s.z, valid, seed));
  double mu = 0, sd = 0;
  for (double v : init) mu += v;
  mu /= static_cast<double>(init.size());
  for (double v : init) sd += (v - mu) * (v - mu);
  sd = std::sqrt(sd / static_cast<double>(init.size() - 1));
  while (!reinforce_done(s, c)) {
    s = train_step(pol, s, c, train);
    if (reinforce_should_validate(s, c)) s = reinforce_record_validation(s, mean_reward(pol, s.z, valid, 100));
  }
  double after = mean_reward(pol, s.best_z, valid, 100);
  std::printf("token-set reward on the transformer: before %.3f ± %.3f, after %.3f (best at step %lld)\n", mu, sd,
              after, static_cast<long long>(s.best_step));
  EXPECT_GT(after - mu, std::max(6 * sd, 0.15));
}

TEST(TransformerPolicy, ReinforceResumeFromBytesIsBitIdentical) {
  auto dir = fixture_with_svd();
  auto model = Model::load(dir, {});
  TransformerPolicy pol(*model, dir + "/t2-svd");
  auto c = small_config();
  c.kl_coeff = 0.05;
  c.batch_size = 6;
  auto train = make_prompts(10, 9);
  auto s = reinforce_init(pol.layout(), z_init(pol.layout(), 3), 10, c);
  auto straight = s;
  for (int i = 0; i < 4; ++i) straight = train_step(pol, straight, c, train);
  auto part = s;
  for (int i = 0; i < 2; ++i) part = train_step(pol, part, c, train);
  auto resumed = reinforce_state_from_bytes(reinforce_state_to_bytes(part), "test state");
  for (int i = 0; i < 2; ++i) resumed = train_step(pol, resumed, c, train);
  ASSERT_EQ(resumed.z.size(), straight.z.size());
  EXPECT_EQ(0, std::memcmp(resumed.z.data(), straight.z.data(), straight.z.size() * sizeof(float)));
  EXPECT_EQ(resumed.opt.m, straight.opt.m);
  double moved = 0;
  for (size_t i = 0; i < s.z.size(); ++i) moved = std::max<double>(moved, std::abs(straight.z[i] - s.z[i]));
  EXPECT_GT(moved, 1e-3);
}

}  // namespace
}  // namespace t2
