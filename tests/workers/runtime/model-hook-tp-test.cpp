// The adaptation hook (dense replacement, factored per-sequence SVF adapter with autograd) and tensor
// parallelism (TP=2 over an in-process thread communicator equals TP=1, forward and backward).
#include <gtest/gtest.h>

#include "tests/workers/runtime/runtime-fixtures.h"
#include "tests/workers/runtime/thread-communicator.h"
#include "workers/model.h"

namespace t2 {
namespace {

using test::make_fixture;
using test::some_ids;

const std::vector<std::string> kLlama = {"--family", "llama", "--seed", "11", "--heads", "4", "--kv-heads", "2"};
const std::vector<std::string> kQwen = {"--family", "qwen2", "--seed", "12", "--heads", "4", "--kv-heads", "2",
                                        "--vocab", "131", "--tie", "--embed-scale", "0.3"};

// y = x · (2W)ᵀ: must equal set_weight(2W).
struct DoubleAdapter : LinearAdapter {
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor&) override {
    return torch::mm(x, (2 * base).t());
  }
};

// SVF in factored form: y = U · (S ⊙ s_b ⊙ (Vᵀ x)), one scale vector s_b per sequence of the batch.
struct FactoredSvf : LinearAdapter {
  torch::Tensor U, S, Vt, scales;  // scales [batch, k], requires grad
  FactoredSvf(const torch::Tensor& w, int64_t batch) {
    auto usv = torch::linalg::svd(w.to(torch::kDouble), false, c10::nullopt);
    U = std::get<0>(usv).to(torch::kFloat);
    S = std::get<1>(usv).to(torch::kFloat);
    Vt = std::get<2>(usv).to(torch::kFloat);
    scales = torch::ones({batch, S.size(0)}).requires_grad_(true);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor& row_of) override {
    EXPECT_FALSE(base.requires_grad());
    torch::Tensor proj = torch::mm(x, Vt.t());                       // [N, k]
    torch::Tensor s = scales.index_select(0, row_of) * S;            // [N, k]
    return torch::mm(proj * s, U.t());
  }
};

// y = alpha · x Wᵀ with a scalar alpha, to compare TP=1 and TP=2 gradients.
struct ScaleAdapter : LinearAdapter {
  torch::Tensor alpha = torch::ones({}).requires_grad_(true);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& base, const torch::Tensor&) override {
    return torch::mm(x, base.t()) * alpha;
  }
};

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(ModelHook, LinearInfosNameEveryLayerWithItsLayout) {
  auto m = Model::load(make_fixture("hook-llama", kLlama), {});
  auto infos = m->linear_infos();
  ASSERT_EQ(infos.size(), 2u * 7u);
  EXPECT_EQ(infos[0].name, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(infos[0].kind, LinearKind::column_parallel);
  EXPECT_EQ(infos[3].name, "model.layers.0.self_attn.o_proj");
  EXPECT_EQ(infos[3].kind, LinearKind::row_parallel);
  EXPECT_EQ(infos[6].name, "model.layers.0.mlp.down_proj");
  EXPECT_EQ(infos[6].in_features, m->config().intermediate_size);
  for (const auto& i : infos) {
    EXPECT_FALSE(m->weight(i.name).requires_grad()) << i.name;
    EXPECT_EQ(m->weight(i.name).size(0), i.out_local);
  }
}

TEST(ModelHook, AdapterEqualsDenseReplacement) {
  std::string dir = make_fixture("hook-llama", kLlama);
  auto a = Model::load(dir, {});
  auto b = Model::load(dir, {});
  torch::NoGradGuard ng;
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{3, 17, 90, 4, 55, 6}).unsqueeze(0);
  torch::Tensor before = a->forward_logits(ids);
  const std::string name = "model.layers.1.mlp.up_proj";
  a->set_adapter(name, std::make_shared<DoubleAdapter>());
  b->set_weight(name, 2 * b->weight(name));
  torch::Tensor la = a->forward_logits(ids), lb = b->forward_logits(ids);
  EXPECT_LE(max_abs_diff(la, lb), 1e-4);
  EXPECT_GT(max_abs_diff(la, before), 1e-2);  // the adaptation changed the output
  a->clear_adapters();
  EXPECT_LE(max_abs_diff(a->forward_logits(ids), before), 1e-6);
}

TEST(ModelHook, FactoredPerSequenceAdapterHasCorrectGradients) {
  std::string dir = make_fixture("hook-qwen", kQwen);
  auto m = Model::load(dir, {});
  std::vector<std::vector<int32_t>> prompts = {some_ids(5, 131, 1), some_ids(9, 131, 2)};
  std::vector<std::vector<int32_t>> conts = {some_ids(4, 131, 3), some_ids(2, 131, 4)};
  auto base = m->score(prompts, conts, false);
  const std::string name = "model.layers.0.mlp.gate_proj";
  auto svf = std::make_shared<FactoredSvf>(m->weight(name), 2);
  m->set_adapter(name, svf);
  // with unit scales the factored layer reproduces W
  auto same = m->score(prompts, conts, false);
  for (size_t i = 0; i < 2; ++i) EXPECT_LE(max_abs_diff(same[i], base[i]), 1e-4);

  // loss over sequence 0 only: sequence 1's scales get exactly zero gradient
  auto lp = m->score(prompts, conts, true);
  ASSERT_TRUE(lp[0].requires_grad());
  torch::Tensor loss = lp[0].sum();
  loss.backward();
  torch::Tensor g = svf->scales.grad().clone();
  EXPECT_EQ(g[1].abs().max().item<float>(), 0.0f);
  EXPECT_GT(g[0].abs().max().item<float>(), 0.0f);
  for (const auto& i : m->linear_infos()) EXPECT_FALSE(m->weight(i.name).grad().defined()) << i.name;

  // central finite differences on the three largest-gradient entries of sequence 0
  auto top = std::get<1>(g[0].abs().topk(3));
  for (int64_t t = 0; t < 3; ++t) {
    int64_t k = top[t].item<int64_t>();
    const float eps = 1e-2f;
    auto eval = [&](float delta) {
      torch::NoGradGuard ng;
      svf->scales.index_put_({0, k}, 1.0f + delta);
      double v = m->score(prompts, conts, false)[0].sum().item<double>();
      svf->scales.index_put_({0, k}, 1.0f);
      return v;
    };
    double fd = (eval(eps) - eval(-eps)) / (2 * eps);
    double an = g[0][k].item<double>();
    EXPECT_NEAR(an, fd, 2e-2 * std::max(1.0, std::abs(fd))) << "scale index " << k;
  }
}

class TensorParallel : public ::testing::TestWithParam<int> {};

TEST_P(TensorParallel, TwoRanksEqualOneRankForwardGenerateAndGradients) {
  const auto& args = GetParam() == 0 ? kLlama : kQwen;
  std::string dir = make_fixture(GetParam() == 0 ? "hook-llama" : "hook-qwen", args);
  auto one = Model::load(dir, {});
  const int V = static_cast<int>(one->config().vocab_size);
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{1, 2, 30, 4, 100, 6, 7, 8}).unsqueeze(0);
  torch::Tensor ref_logits;
  {
    torch::NoGradGuard ng;
    ref_logits = one->forward_logits(ids);
  }
  std::vector<std::vector<int32_t>> prompts = {some_ids(3, V, 9), some_ids(12, V, 10)};
  GenerateOptions go;
  go.max_new_tokens = 16;
  go.use_config_eos = false;
  auto ref_gen = one->generate(prompts, go);
  const std::vector<std::string> adapted = {"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.down_proj",
                                            "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.o_proj"};
  std::vector<std::vector<int32_t>> conts = {some_ids(4, V, 11), some_ids(5, V, 12)};
  std::vector<double> ref_grads;
  {
    std::vector<std::shared_ptr<ScaleAdapter>> ads;
    for (const auto& n : adapted) {
      ads.push_back(std::make_shared<ScaleAdapter>());
      one->set_adapter(n, ads.back());
    }
    auto lp = one->score(prompts, conts, true);
    (lp[0].sum() + 2 * lp[1].sum()).backward();
    for (auto& a : ads) ref_grads.push_back(a->alpha.grad().item<double>());
    one->clear_adapters();
  }

  std::vector<std::vector<double>> grads(2);
  std::vector<torch::Tensor> logits(2);
  std::vector<std::vector<Generation>> gens(2);
  test::run_on_ranks(2, [&](int r, Communicator& comm) {
    LoadOptions lo;
    lo.tp_comm = &comm;
    auto m = Model::load(dir, lo);
    // every rank holds only its shard
    const auto& q = m->linear_info("model.layers.0.self_attn.q_proj");
    EXPECT_EQ(q.out_local * 2, q.out_features);
    EXPECT_TRUE(torch::equal(m->weight(q.name), one->weight(q.name).narrow(0, q.out_offset, q.out_local)));
    const auto& d = m->linear_info("model.layers.1.mlp.down_proj");
    EXPECT_EQ(d.in_local * 2, d.in_features);
    EXPECT_TRUE(torch::equal(m->weight(d.name), one->weight(d.name).narrow(1, d.in_offset, d.in_local)));
    {
      torch::NoGradGuard ng;
      logits[static_cast<size_t>(r)] = m->forward_logits(ids);
    }
    gens[static_cast<size_t>(r)] = m->generate(prompts, go);
    std::vector<std::shared_ptr<ScaleAdapter>> ads;
    for (const auto& n : adapted) {
      ads.push_back(std::make_shared<ScaleAdapter>());
      m->set_adapter(n, ads.back());
    }
    auto lp = m->score(prompts, conts, true);
    (lp[0].sum() + 2 * lp[1].sum()).backward();
    for (auto& a : ads) grads[static_cast<size_t>(r)].push_back(a->alpha.grad().item<double>());
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_LE(max_abs_diff(logits[static_cast<size_t>(r)], ref_logits), 1e-5) << "rank " << r;
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(gens[static_cast<size_t>(r)][i].ids, ref_gen[i].ids);
  }
  // a scalar shared by the shards: its gradient is the sum of the ranks' local gradients
  for (size_t i = 0; i < adapted.size(); ++i)
    EXPECT_NEAR(grads[0][i] + grads[1][i], ref_grads[i], 1e-4 * std::max(1.0, std::abs(ref_grads[i]))) << adapted[i];
}

INSTANTIATE_TEST_SUITE_P(Families, TensorParallel, ::testing::Values(0, 1),
                         [](const auto& info) { return info.param == 0 ? std::string("llama_vocab_sharded")
                                                                       : std::string("qwen2_vocab_replicated"); });

}  // namespace
}  // namespace t2
