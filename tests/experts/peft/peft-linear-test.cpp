// LoRA, DoRA and IA3 adapter layers against an explicit dense merge (computed in float64 from the full
// factors): single layer, tensor-parallel column/row shards (DoRA's row norm all-reduced over a thread
// communicator), inside the runtime's transformer at TP 1 and TP 2, and the gradient path.
#include <gtest/gtest.h>

#include "experts/ia3-linear.h"
#include "experts/lora-linear.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "tests/workers/runtime/thread-communicator.h"
#include "workers/model.h"

namespace t2 {
namespace {

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

LinearInfo full_info(int64_t out, int64_t in, LinearKind kind = LinearKind::replicated) {
  LinearInfo i;
  i.name = "model.layers.0.self_attn.q_proj";
  i.kind = kind;
  i.out_features = i.out_local = out;
  i.in_features = i.in_local = in;
  return i;
}

// Trained-looking factors: B non-zero so the adapter changes the layer.
LoraFactors some_lora(int64_t out, int64_t in, int64_t r, bool dora, const torch::Tensor& W) {
  auto f = lora_init(out, in, r, 2.0 * static_cast<double>(r), 5);
  torch::manual_seed(7);
  f.B = 0.1 * torch::randn({out, r});
  if (dora) f.magnitude = dora_magnitude_init(W) * (1 + 0.2 * torch::rand({out}));
  return f;
}

LinearInfo shard_info(const LinearInfo& full, int rank, int size) {
  LinearInfo i = full;
  i.tp_rank = rank;
  i.tp_size = size;
  if (full.kind == LinearKind::column_parallel) {
    i.out_local = full.out_features / size;
    i.out_offset = rank * i.out_local;
  } else {
    i.in_local = full.in_features / size;
    i.in_offset = rank * i.in_local;
  }
  return i;
}

class LoraKinds : public ::testing::TestWithParam<bool> {};

TEST_P(LoraKinds, ForwardEqualsDenseMerge) {
  const bool dora = GetParam();
  torch::manual_seed(3);
  auto W = torch::randn({24, 16}) / 4;
  auto x = torch::randn({9, 16});
  auto f = some_lora(24, 16, 4, dora, W);
  LoraLinearAdapter a(f, full_info(24, 16));
  torch::NoGradGuard ng;
  auto y = a.forward(x, W, torch::Tensor());
  auto ref = torch::matmul(x.to(torch::kFloat64), lora_merge(W, f).t());
  EXPECT_LE(max_abs(y, ref), 1e-5);
  EXPECT_GT(max_abs(y, torch::matmul(x, W.t())), 1e-2);  // the adapter does something
  // fresh PEFT init: B = 0 (and m = ‖W‖) gives back W
  auto f0 = lora_init(24, 16, 4, 8, 1);
  if (dora) f0.magnitude = dora_magnitude_init(W);
  LoraLinearAdapter a0(f0, full_info(24, 16));
  EXPECT_LE(max_abs(a0.forward(x, W, torch::Tensor()), torch::matmul(x, W.t())), 1e-5);
}

TEST_P(LoraKinds, TensorParallelShardsEqualDenseMerge) {
  const bool dora = GetParam();
  torch::manual_seed(4);
  auto W = torch::randn({24, 16}) / 4;
  auto x = torch::randn({6, 16});
  auto f = some_lora(24, 16, 4, dora, W);
  auto ref = torch::matmul(x.to(torch::kFloat64), lora_merge(W, f).t());
  for (auto kind : {LinearKind::column_parallel, LinearKind::row_parallel}) {
    auto full = full_info(24, 16, kind);
    std::vector<torch::Tensor> part(2);
    test::run_on_ranks(2, [&](int r, Communicator& comm) {
      auto info = shard_info(full, r, 2);
      LoraLinearAdapter a(lora_shard(f, info), info, &comm);
      auto Wl = W.narrow(0, info.out_offset, info.out_local).narrow(1, info.in_offset, info.in_local);
      auto xl = x.narrow(1, info.in_offset, info.in_local);
      torch::NoGradGuard ng;
      part[static_cast<size_t>(r)] = a.forward(xl, Wl, torch::Tensor());
    });
    auto y = kind == LinearKind::column_parallel ? torch::cat(part, 1) : part[0] + part[1];
    EXPECT_LE(max_abs(y, ref), 1e-5) << (kind == LinearKind::column_parallel ? "column" : "row");
  }
}

TEST_P(LoraKinds, GradientReachesFactorsOnlyAndMatchesDenseAutograd) {
  const bool dora = GetParam();
  torch::manual_seed(5);
  auto W = torch::randn({12, 10}) / 3;
  auto x = torch::randn({5, 10}, torch::kFloat64);
  auto R = torch::randn({5, 12}, torch::kFloat64);
  auto f = some_lora(12, 10, 3, dora, W);
  auto Wd = W.to(torch::kFloat64);
  LoraLinearAdapter a(f, full_info(12, 10));
  a.set_trainable(true);
  (a.forward(x.to(torch::kFloat), W, torch::Tensor()).to(torch::kFloat64) * R).sum().backward();
  // reference: the same function in float64 autograd, the row norm detached as PEFT does
  auto A = f.A.to(torch::kFloat64).requires_grad_(true), B = f.B.to(torch::kFloat64).requires_grad_(true);
  torch::Tensor m = dora ? f.magnitude.to(torch::kFloat64).requires_grad_(true) : torch::Tensor();
  auto merged = Wd + f.scaling * torch::matmul(B, A);
  auto Wp = dora ? m.unsqueeze(1) * merged / merged.norm(2, {1}, true).detach() : merged;
  (torch::matmul(x, Wp.t()) * R).sum().backward();
  EXPECT_LE(max_abs(a.factors().A.grad(), A.grad()), 1e-4);
  EXPECT_LE(max_abs(a.factors().B.grad(), B.grad()), 1e-4);
  if (dora) {
    EXPECT_LE(max_abs(a.factors().magnitude.grad(), m.grad()), 1e-4);
  }
  EXPECT_FALSE(W.grad().defined());
}

TEST_P(LoraKinds, DropoutOnlyWhileTraining) {
  const bool dora = GetParam();
  torch::manual_seed(6);
  auto W = torch::randn({8, 8});
  auto x = torch::randn({4, 8});
  auto f = some_lora(8, 8, 2, dora, W);
  LoraLinearAdapter a(f, full_info(8, 8));
  torch::NoGradGuard ng;
  auto eval = a.forward(x, W, torch::Tensor());
  a.set_dropout(0.5, true);
  torch::manual_seed(1);
  auto t1 = a.forward(x, W, torch::Tensor());
  torch::manual_seed(1);
  auto t2 = a.forward(x, W, torch::Tensor());
  EXPECT_TRUE(torch::equal(t1, t2));             // seeded: reproducible
  EXPECT_GT(max_abs(t1, eval), 1e-3);            // dropout acts on the adapter path
  // the base path is never dropped: with B = 0 (and m = ‖W‖) training output equals x Wᵀ
  auto f0 = lora_init(8, 8, 2, 4, 1);
  if (dora) f0.magnitude = dora_magnitude_init(W);
  LoraLinearAdapter a0(f0, full_info(8, 8));
  a0.set_dropout(0.5, true);
  EXPECT_LE(max_abs(a0.forward(x, W, torch::Tensor()), torch::matmul(x, W.t())), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Peft, LoraKinds, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? std::string("dora") : std::string("lora"); });

TEST(Ia3Linear, ForwardEqualsDenseMergeAndShards) {
  torch::manual_seed(8);
  auto W = torch::randn({20, 12}) / 3;
  auto x = torch::randn({7, 12});
  for (bool ff : {false, true}) {
    auto v = ia3_init(20, 12, ff);
    v.l = 1 + 0.3 * torch::randn(v.l.sizes());
    auto ref = torch::matmul(x.to(torch::kFloat64), ia3_merge(W, v).t());
    torch::NoGradGuard ng;
    Ia3LinearAdapter a(v, full_info(20, 12));
    EXPECT_LE(max_abs(a.forward(x, W, torch::Tensor()), ref), 1e-5) << ff;
    for (auto kind : {LinearKind::column_parallel, LinearKind::row_parallel}) {
      std::vector<torch::Tensor> part;
      for (int r = 0; r < 2; ++r) {
        auto info = shard_info(full_info(20, 12, kind), r, 2);
        Ia3LinearAdapter s(ia3_shard(v, info), info);
        part.push_back(s.forward(x.narrow(1, info.in_offset, info.in_local),
                                 W.narrow(0, info.out_offset, info.out_local).narrow(1, info.in_offset, info.in_local),
                                 torch::Tensor()));
      }
      auto y = kind == LinearKind::column_parallel ? torch::cat(part, 1) : part[0] + part[1];
      EXPECT_LE(max_abs(y, ref), 1e-5) << ff << " " << static_cast<int>(kind);
    }
  }
}

// Inside the transformer: adapters on q, v (column-parallel), o and down (row-parallel) equal the
// dense merge swapped in with set_weight, at TP 1 and at TP 2 (shards on a thread communicator).
TEST(PeftInModel, AdaptersEqualDenseMergeAtTp1AndTp2) {
  const std::string dir = test::make_fixture(
      "peft-llama", {"--family", "llama", "--seed", "21", "--heads", "4", "--kv-heads", "2"});
  auto ref = Model::load(dir, {});
  const std::vector<std::string> names = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                          "model.layers.1.self_attn.o_proj", "model.layers.1.mlp.down_proj",
                                          "model.layers.1.mlp.up_proj"};
  // method per layer: LoRA, DoRA, DoRA, IA3 (input scale), IA3 (output scale)
  std::map<std::string, LoraFactors> lora;
  std::map<std::string, Ia3Vector> ia3;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& info = ref->linear_info(names[i]);
    auto W = ref->weight(names[i]);
    if (i < 3) {
      lora[names[i]] = some_lora(info.out_features, info.in_features, 4, i > 0, W);
      ref->set_weight(names[i], lora_merge(W, lora[names[i]]).to(torch::kFloat));
    } else {
      auto v = ia3_init(info.out_features, info.in_features, i == 3);
      v.l = 1 + 0.3 * torch::randn(v.l.sizes());
      ia3[names[i]] = v;
      ref->set_weight(names[i], ia3_merge(W, v).to(torch::kFloat));
    }
  }
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{5, 9, 31, 2, 77, 6, 12}).unsqueeze(0);
  torch::NoGradGuard ng;
  auto want = ref->forward_logits(ids);
  auto attach = [&](Model& m, Communicator* comm) {
    for (const auto& n : names) {
      const auto& info = m.linear_info(n);
      if (lora.count(n))
        m.set_adapter(n, std::make_shared<LoraLinearAdapter>(lora_shard(lora[n], info), info, comm));
      else
        m.set_adapter(n, std::make_shared<Ia3LinearAdapter>(ia3_shard(ia3[n], info), info));
    }
  };
  auto one = Model::load(dir, {});
  auto base = one->forward_logits(ids);
  attach(*one, nullptr);
  EXPECT_LE(max_abs(one->forward_logits(ids), want), 1e-4);
  EXPECT_GT(max_abs(base, want), 1e-2);
  std::vector<torch::Tensor> got(2);
  test::run_on_ranks(2, [&](int r, Communicator& comm) {
    LoadOptions lo;
    lo.tp_comm = &comm;
    auto m = Model::load(dir, lo);
    attach(*m, &comm);
    torch::NoGradGuard ng2;
    got[static_cast<size_t>(r)] = m->forward_logits(ids);
  });
  for (int r = 0; r < 2; ++r) EXPECT_LE(max_abs(got[static_cast<size_t>(r)], want), 1e-4) << "rank " << r;
}

}  // namespace
}  // namespace t2
