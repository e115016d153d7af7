// Training the baselines on the tiny transformer: LoRA next-token training lowers the loss far beyond
// the spread between seeds; the shards of a step add up to the whole batch's gradient (checked
// against finite differences of the loss); resume from the state bytes is bit-identical; the
// policy-gradient objective moves the adapter toward high-advantage completions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "experts/peft-train.h"
#include "experts/state-bytes.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "tests/workers/runtime/thread-communicator.h"
#include "workers/model.h"

namespace t2 {
namespace {

const std::vector<std::string> kArgs = {"--family", "llama", "--seed", "41", "--heads", "4", "--kv-heads", "2"};

std::vector<PeftExample> data(int n, uint64_t seed) {
  std::vector<PeftExample> v;
  for (int i = 0; i < n; ++i) {
    PeftExample e;
    e.prompt = test::some_ids(5, 128, static_cast<uint32_t>(seed * 100 + static_cast<uint64_t>(i)));
    e.target = test::some_ids(6, 128, static_cast<uint32_t>(seed * 100 + 50 + static_cast<uint64_t>(i)));
    v.push_back(e);
  }
  return v;
}

OptimizerConfig adam(double lr) {
  OptimizerConfig o;
  o.lr = lr;
  o.clip_norm = 1.0;
  return o;
}

PeftAdapter fresh(Model& m, PeftMethod method, uint64_t seed) {
  PeftConfig c;
  c.method = method;
  c.r = 4;
  c.lora_alpha = 8;
  return peft_init(m, c, seed);
}

TEST(PeftTrain, NextTokenLoraLowersTheLossFarBeyondSeedNoise) {
  auto m = Model::load(test::make_fixture("peft-train", kArgs), {});
  auto batch = data(8, 1);
  std::vector<double> final_loss;
  double start = 0;
  for (uint64_t seed : {1, 2, 3}) {
    PeftTrainer t(*m, fresh(*m, PeftMethod::lora, seed), PeftObjective::next_token, adam(1e-2), seed);
    start = t.eval_loss(batch);  // B = 0: the base model's loss, the same for every seed
    for (int s = 0; s < 40; ++s) t.train_step(batch);
    final_loss.push_back(t.eval_loss(batch));
  }
  double mean = (final_loss[0] + final_loss[1] + final_loss[2]) / 3, var = 0;
  for (double l : final_loss) var += (l - mean) * (l - mean) / 2;
  const double sd = std::sqrt(var);
  std::cout << "next-token LoRA: loss " << start << " -> " << mean << " (seed sd " << sd << ")\n";
  EXPECT_GT(start - mean, 1.0);
  EXPECT_GT(start - mean, 10 * sd);
}

TEST(PeftTrain, ShardsAddUpToTheBatchGradientWhichMatchesFiniteDifferences) {
  auto m = Model::load(test::make_fixture("peft-train", kArgs), {});
  auto batch = data(4, 2);
  for (auto method : {PeftMethod::lora, PeftMethod::dora, PeftMethod::ia3}) {
    auto init = fresh(*m, method, 5);
    torch::manual_seed(3);
    for (auto& [_, f] : init.lora) f.B = 0.05 * torch::randn(f.B.sizes());
    for (auto& [_, v] : init.ia3) v.l = 1 + 0.1 * torch::randn(v.l.sizes());
    init.config.lora_dropout = 0;  // finite differences need a deterministic loss
    PeftTrainer t(*m, init, PeftObjective::next_token, adam(1e-3), 1);
    const int64_t n = PeftTrainer::batch_count(batch, PeftObjective::next_token);
    auto whole = t.grad(batch, n, 0);
    auto a = t.grad({batch[0], batch[1]}, n, 0), b = t.grad({batch[2], batch[3]}, n, 1);
    double maxd = 0, gmax = 0;
    for (size_t i = 0; i < whole.grad.size(); ++i) {
      maxd = std::max(maxd, static_cast<double>(std::abs(a.grad[i] + b.grad[i] - whole.grad[i])));
      gmax = std::max(gmax, static_cast<double>(std::abs(whole.grad[i])));
    }
    EXPECT_LE(maxd, 1e-5 * std::max(1.0, gmax)) << peft_method_name(method);
    EXPECT_NEAR(a.loss + b.loss, whole.loss, 1e-6);
    EXPECT_NEAR(whole.loss, t.eval_loss(batch), 1e-5);
    // central differences on the largest gradient entries (not DoRA: its row norm is a constant
    // for the gradient by design, checked against dense autograd in peft-linear-test)
    if (method == PeftMethod::dora) continue;
    auto p = t.flat_parameters();
    std::vector<size_t> idx(p.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(),
                      [&](size_t x, size_t y) { return std::abs(whole.grad[x]) > std::abs(whole.grad[y]); });
    for (int k = 0; k < 3; ++k) {
      const size_t i = idx[static_cast<size_t>(k)];
      const float h = 1e-2f;
      auto q = p;
      q[i] = p[i] + h;
      // the loss at perturbed parameters: a fresh trainer loaded with them (zero moments)
      auto eval_at = [&](const std::vector<float>& v) {
        PeftTrainer u(*m, init, PeftObjective::next_token, adam(1e-3), 1);
        ByteWriter w;
        w.str("t2-peft-train-v1");
        w.str(peft_method_name(method));
        w.f32s(v);
        w.f32s(std::vector<float>(v.size(), 0.f));
        w.f32s(std::vector<float>(v.size(), 0.f));
        w.i64(0);
        u.load_state(w.take());
        return u.eval_loss(batch);
      };
      auto qm = p;
      qm[i] = p[i] - h;
      const double fd = (eval_at(q) - eval_at(qm)) / (2 * h);
      EXPECT_NEAR(whole.grad[i], fd, 2e-2 * std::max(1e-2, std::abs(fd))) << peft_method_name(method) << " " << i;
    }
  }
}

TEST(PeftTrain, ResumeIsBitIdentical) {
  auto m = Model::load(test::make_fixture("peft-train", kArgs), {});
  auto batch = data(6, 3);
  for (auto method : {PeftMethod::lora, PeftMethod::dora, PeftMethod::ia3}) {
    auto init = fresh(*m, method, 7);
    std::string mid;
    std::vector<float> straight;
    {
      PeftTrainer t(*m, init, PeftObjective::next_token, adam(5e-3), 11);
      for (int s = 0; s < 4; ++s) {
        if (s == 2) mid = t.state_bytes();
        t.train_step(batch);
      }
      straight = t.flat_parameters();
    }
    PeftTrainer r(*m, init, PeftObjective::next_token, adam(5e-3), 11);
    r.load_state(mid);
    EXPECT_EQ(r.step(), 2);
    for (int s = 2; s < 4; ++s) r.train_step(batch);
    auto resumed = r.flat_parameters();
    ASSERT_EQ(resumed.size(), straight.size());
    EXPECT_EQ(std::memcmp(resumed.data(), straight.data(), straight.size() * sizeof(float)), 0)
        << peft_method_name(method);
    EXPECT_NE(r.flat_parameters(), PeftTrainer(*m, init, PeftObjective::next_token, adam(5e-3), 11).flat_parameters());
  }
}

TEST(PeftTrain, PolicyGradientRaisesTheLikelihoodOfPositiveAdvantageCompletions) {
  auto m = Model::load(test::make_fixture("peft-train", kArgs), {});
  auto batch = data(6, 4);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].advantage = i % 2 == 0 ? 1.0 : -1.0;
  std::vector<PeftExample> good, bad;
  for (size_t i = 0; i < batch.size(); ++i) (i % 2 == 0 ? good : bad).push_back(batch[i]);
  PeftTrainer t(*m, fresh(*m, PeftMethod::lora, 1), PeftObjective::policy_gradient, adam(1e-2), 1);
  const double g0 = t.eval_loss(good), b0 = t.eval_loss(bad);
  for (int s = 0; s < 15; ++s) t.train_step(batch);
  EXPECT_LT(t.eval_loss(good), g0 - 0.2);
  EXPECT_GT(t.eval_loss(bad), b0 + 0.2);
}

// TP 2 (thread communicator) equals TP 1: two optimizer steps with clipping active (the global norm
// over shards and replicated factors), then the gathered adapter, for every method.
TEST(PeftTrain, TensorParallelStepsEqualOneRank) {
  const std::string dir = test::make_fixture("peft-train", kArgs);
  auto batch = data(4, 5);
  for (auto method : {PeftMethod::lora, PeftMethod::dora, PeftMethod::ia3}) {
    PeftConfig c;
    c.method = method;
    c.r = 4;
    c.lora_alpha = 8;
    c.lora_dropout = 0;  // dropout masks differ with the shard shapes
    if (method != PeftMethod::ia3) c.target_modules = {"q_proj", "v_proj", "o_proj", "down_proj"};
    auto one = Model::load(dir, {});
    auto init = peft_init(*one, c, 4);
    torch::manual_seed(2);
    for (auto& [_, f] : init.lora) f.B = 0.05 * torch::randn(f.B.sizes());
    OptimizerConfig o = adam(1e-2);
    o.clip_norm = 0.5;  // active: the gradient norm is larger
    PeftAdapter ref;
    double ref_norm = 0;
    {
      PeftTrainer t(*one, init, PeftObjective::next_token, o, 1);
      auto g = t.grad(batch, PeftTrainer::batch_count(batch, PeftObjective::next_token));
      ref_norm = t.apply(g.grad).grad_norm;
      t.train_step(batch);
      ref = t.adapter();
    }
    EXPECT_GT(ref_norm, o.clip_norm);
    std::vector<PeftAdapter> got(2);
    std::vector<double> norms(2);
    test::run_on_ranks(2, [&](int r, Communicator& comm) {
      LoadOptions lo;
      lo.tp_comm = &comm;
      auto m = Model::load(dir, lo);
      PeftTrainer t(*m, init, PeftObjective::next_token, o, 1);
      auto g = t.grad(batch, PeftTrainer::batch_count(batch, PeftObjective::next_token));
      norms[static_cast<size_t>(r)] = t.apply(g.grad).grad_norm;
      t.train_step(batch);
      got[static_cast<size_t>(r)] = t.adapter();
    });
    for (int r = 0; r < 2; ++r) {
      EXPECT_NEAR(norms[static_cast<size_t>(r)], ref_norm, 1e-4 * ref_norm) << peft_method_name(method);
      const auto& a = got[static_cast<size_t>(r)];
      ASSERT_EQ(a.lora.size(), ref.lora.size());
      for (const auto& [n, f] : ref.lora) {
        EXPECT_LE((a.lora.at(n).A - f.A).abs().max().item<double>(), 1e-5) << n;
        EXPECT_LE((a.lora.at(n).B - f.B).abs().max().item<double>(), 1e-5) << n;
        if (f.dora()) {
          EXPECT_LE((a.lora.at(n).magnitude - f.magnitude).abs().max().item<double>(), 1e-5) << n;
        }
      }
      for (const auto& [n, v] : ref.ia3) EXPECT_LE((a.ia3.at(n).l - v.l).abs().max().item<double>(), 1e-5) << n;
    }
  }
}

// A campaign's coordinator holds the full adapter at any TP: at TP 2 each rank takes its shards of
// full values (set_full_parameters), gives them back whole (full_parameters) and answers a shard's
// gradient whole (full_grad), equal to TP 1's, for every method on column- and row-parallel layers.
TEST(PeftTrain, FullValuesUnderTensorParallelEqualOneRank) {
  const std::string dir = test::make_fixture("peft-train", kArgs);
  auto batch = data(4, 6);
  const int64_t count = PeftTrainer::batch_count(batch, PeftObjective::next_token);
  for (auto method : {PeftMethod::lora, PeftMethod::dora, PeftMethod::ia3}) {
    PeftConfig c;
    c.method = method;
    c.r = 4;
    c.lora_alpha = 8;
    c.lora_dropout = 0;  // dropout masks differ with the shard shapes of a row-parallel input
    c.target_modules = {"q_proj", "v_proj", "o_proj", "up_proj", "down_proj"};
    if (method == PeftMethod::ia3) c.feedforward_modules = {"o_proj", "down_proj"};
    auto one = Model::load(dir, {});
    auto init = peft_init(*one, c, 4);
    std::vector<float> full, ref_grad;
    {
      PeftTrainer t(*one, init, PeftObjective::next_token, adam(1e-2), 1);
      EXPECT_EQ(t.num_full_parameters(), t.num_parameters());
      full = t.full_parameters();
      EXPECT_EQ(full, t.flat_parameters());
      torch::manual_seed(3);  // values away from the identity, so every factor has a gradient
      auto noise = torch::randn({static_cast<int64_t>(full.size())}, torch::kFloat);
      for (size_t i = 0; i < full.size(); ++i) full[i] += 0.05f * noise[static_cast<int64_t>(i)].item<float>();
      t.set_full_parameters(full, 0);
      ref_grad = t.full_grad(t.grad(batch, count).grad);
    }
    double scale = 0;
    for (float g : ref_grad) scale = std::max(scale, std::abs(static_cast<double>(g)));
    ASSERT_GT(scale, 0);
    std::vector<std::vector<float>> back(2), grads(2);
    std::vector<int64_t> local(2);
    test::run_on_ranks(2, [&](int r, Communicator& comm) {
      LoadOptions lo;
      lo.tp_comm = &comm;
      auto m = Model::load(dir, lo);
      PeftTrainer t(*m, peft_init(*m, c, 4), PeftObjective::next_token, adam(1e-2), 1);
      t.set_full_parameters(full, 0);
      local[static_cast<size_t>(r)] = t.num_parameters();
      back[static_cast<size_t>(r)] = t.full_parameters();
      grads[static_cast<size_t>(r)] = t.full_grad(t.grad(batch, count).grad);
    });
    for (size_t r = 0; r < 2; ++r) {
      EXPECT_LT(local[r], static_cast<int64_t>(full.size())) << peft_method_name(method) << ": nothing sharded";
      EXPECT_EQ(back[r], full) << peft_method_name(method) << " rank " << r;
      ASSERT_EQ(grads[r].size(), ref_grad.size());
      double worst = 0;
      for (size_t i = 0; i < ref_grad.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(grads[r][i]) - ref_grad[i]));
      EXPECT_LE(worst, 1e-5 * scale) << peft_method_name(method) << " rank " << r;
    }
  }
}

}  // namespace
}  // namespace t2
