// CUDA against the CPU (label gpu: scripts/gpu-check runs it; skipped where no GPU is visible):
//   logits     bf16 on CUDA vs fp32 on the CPU for the llama3, mistral and qwen2 fixture families:
//              |Δ| <= 0.05 + 0.02 |logit| (bf16 keeps 8 mantissa bits)
//   z-gradient fp32 on both: the composed model's log-softmax and the closed-form dL/dz agree to 1e-4
//              relative (different kernels, same math)
//   REINFORCE  one shard gradient (with the KL term) on CUDA vs CPU, fp32: 1e-4 relative
//   CEM        greedy generation under per-row multipliers, fp32: the same tokens on >= 90 % of rows
//              (near-ties may flip an argmax)
#include <gtest/gtest.h>

#include "experts/decompose.h"
#include "experts/reinforce-step.h"
#include "experts/transformer-policy.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

std::string fixture(const std::string& family, bool svd) {
  auto dir = test::make_fixture("gpu-" + family, {"--family", family, "--seed", "3", "--hidden", "64", "--layers", "2",
                                                  "--heads", "4", "--kv-heads", "2", "--intermediate", "96",
                                                  "--vocab", "96"});
  if (svd) {
    DecomposeOptions o;
    o.out_dir = dir + "/t2-svd";
    decompose_model(dir, o);
  }
  return dir;
}

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.to(torch::kCPU, torch::kDouble), y = b.to(torch::kCPU, torch::kDouble);
  return ((x - y).abs().max() / (y.abs().max() + 1e-12)).item<double>();
}

std::vector<TokenSeq> seqs(int n, int len, uint32_t seed) {
  std::vector<TokenSeq> out;
  for (int i = 0; i < n; ++i) {
    auto ids = test::some_ids(len + i % 3, 96, seed + static_cast<uint32_t>(i));
    out.emplace_back(ids.begin(), ids.end());
  }
  return out;
}

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to this LibTorch";
  }
};

TEST_F(Gpu, Bf16LogitsMatchCpuFp32) {
  for (const std::string family : {"llama3", "mistral", "qwen2"}) {
    const auto dir = fixture(family, false);
    LoadOptions cpu, gpu;
    cpu.dtype = "float32";
    gpu.device = "cuda:0";
    gpu.dtype = "bfloat16";
    auto a = Model::load(dir, cpu), b = Model::load(dir, gpu);
    auto ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 17, 33, 65, 2, 4}, torch::kLong).view({2, 4});
    torch::NoGradGuard ng;
    auto la = a->forward_logits(ids).to(torch::kDouble);
    auto lb = b->forward_logits(ids.to(b->device())).to(torch::kCPU, torch::kDouble);
    auto excess = ((la - lb).abs() - 0.02 * la.abs()).max().item<double>();
    EXPECT_LE(excess, 0.05) << family;
  }
}

TEST_F(Gpu, CompositionGradientAndReinforceMatchCpu) {
  const auto dir = fixture("llama3", true);
  LoadOptions cpu, gpu;
  cpu.dtype = gpu.dtype = "float32";
  gpu.device = "cuda:0";
  auto ma = Model::load(dir, cpu), mb = Model::load(dir, gpu);
  TransformerPolicy pa(*ma, dir + "/t2-svd"), pb(*mb, dir + "/t2-svd");
  const auto prompts = seqs(3, 5, 7), completions = seqs(3, 4, 19);
  const int64_t total = pa.layout().total();
  std::vector<float> z(static_cast<size_t>(total));
  for (size_t i = 0; i < z.size(); ++i) z[i] = 0.3f + 0.01f * static_cast<float>(i % 17);
  // composition: the z-adapted log-softmax
  {
    torch::NoGradGuard ng;
    auto zt = torch::tensor(z);
    pa.adapt_z(zt);
    pb.adapt_z(zt);
    EXPECT_LT(rel(pb.completion_log_softmax(prompts, completions), pa.completion_log_softmax(prompts, completions)),
              1e-4);
    pa.adapt_base();
    pb.adapt_base();
  }
  // one REINFORCE shard gradient with the KL term
  ReinforceConfig c;
  c.kl_coeff = 0.1;
  const std::vector<double> adv = {1.0, -0.5, 0.25};
  auto ga = reinforce_shard_gradient(pa, z, prompts, completions, adv, 3, c);
  auto gb = reinforce_shard_gradient(pb, z, prompts, completions, adv, 3, c);
  EXPECT_LT(rel(torch::tensor(gb.grad), torch::tensor(ga.grad)), 1e-4);
  EXPECT_NEAR(gb.loss, ga.loss, 1e-4 * (1 + std::abs(ga.loss)));
}

TEST_F(Gpu, CemGenerationMatchesCpu) {
  const auto dir = fixture("llama3", true);
  LoadOptions cpu, gpu;
  cpu.dtype = gpu.dtype = "float32";
  gpu.device = "cuda:0";
  auto ma = Model::load(dir, cpu), mb = Model::load(dir, gpu);
  TransformerPolicy pa(*ma, dir + "/t2-svd"), pb(*mb, dir + "/t2-svd");
  const auto prompts = seqs(8, 5, 23);
  auto rows = torch::rand({8, pa.layout().total()}, torch::TensorOptions().dtype(torch::kFloat)) * 2;
  pa.adapt_multipliers(rows);
  pb.adapt_multipliers(rows);
  SampleOptions o;
  o.max_new_tokens = 8;
  auto a = pa.generate(prompts, o, 1), b = pb.generate(prompts, o, 1);
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  EXPECT_GE(same * 10, static_cast<int>(a.size()) * 9) << same << " of " << a.size();
}

}  // namespace
}  // namespace t2
