// t2 decompose on a fixture checkpoint: factors reconstruct every adapted matrix from the TP shard
// files, a second run reuses them, work split over two processes resumes matrix by matrix, and a
// changed checkpoint is refused instead of silently reused.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/files.h"
#include "experts/decompose.h"
#include "results/hdf5-file.h"
#include "tests/support/test-support.h"
#include "workers/safetensors.h"

namespace t2 {
namespace {

using Tensors = std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>;

Tensors fixture(uint64_t seed) {
  torch::manual_seed(seed);
  Tensors t;
  auto add = [&](const std::string& name, int64_t r, int64_t c) {
    auto w = torch::randn({r, c}).contiguous();
    t.push_back({name, {{r, c}, std::vector<float>(w.data_ptr<float>(), w.data_ptr<float>() + w.numel())}});
  };
  add("model.embed_tokens.weight", 16, 8);
  for (int l = 0; l < 2; ++l) {
    auto p = "model.layers." + std::to_string(l);
    add(p + ".self_attn.q_proj.weight", 8, 8);
    add(p + ".self_attn.o_proj.weight", 8, 8);
    add(p + ".mlp.gate_proj.weight", 12, 8);
    add(p + ".mlp.up_proj.weight", 12, 8);
    add(p + ".mlp.down_proj.weight", 8, 12);
  }
  return t;
}

torch::Tensor read_t(const h5::Group& g, const std::string& name) {
  auto a = g.read<float>(name);
  std::vector<int64_t> shape(a.shape.begin(), a.shape.end());
  return torch::tensor(a.data).view(shape);
}

TEST(Decompose, ShardsReconstructReuseAndRefuseChangedWeights) {
  auto dir = test::make_temp_dir("t2-decompose");
  auto tensors = fixture(1);
  write_safetensors_f32(dir + "/model.safetensors", tensors);
  DecomposeOptions opt;
  opt.tp = 2;
  opt.out_dir = dir + "/svd";
  auto rep = decompose_model(dir, opt);
  ASSERT_EQ(rep.files.size(), 2u);
  ASSERT_EQ(rep.matrices.size(), 6u);
  EXPECT_EQ(rep.matrices[0].name, "model.layers.0.mlp.gate_proj.weight");
  EXPECT_EQ(rep.matrices[2].name, "model.layers.0.mlp.down_proj.weight");
  auto s0 = h5::File::open(rep.files[0]), s1 = h5::File::open(rep.files[1]);
  EXPECT_EQ(s0.attr_string("source_hash"), rep.source_hash);
  for (auto& [name, data] : tensors) {
    if (name.find(".mlp.") == std::string::npos) continue;
    auto W = torch::tensor(data.second).view(data.first);
    auto g0 = s0.open_group("m/" + name), g1 = s1.open_group("m/" + name);
    torch::Tensor U, V;
    if (linear_kind_of(name) == "column") {
      U = torch::cat({read_t(g0, "U"), read_t(g1, "U")}, 0);  // U's rows sharded
      V = read_t(g0, "V");
      EXPECT_TRUE(torch::equal(V, read_t(g1, "V")));
    } else {
      U = read_t(g0, "U");
      V = torch::cat({read_t(g0, "V"), read_t(g1, "V")}, 0);  // V's rows sharded
    }
    auto S = read_t(g0, "S");
    auto rec = torch::matmul(U * S.unsqueeze(0), V.t());
    EXPECT_LE((rec - W).norm().item<double>() / W.norm().item<double>(), 1e-5) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(opt.out_dir + "/parts"));
  // Same weights: reused.
  auto again = decompose_model(dir, opt);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.source_hash, rep.source_hash);
  // Changed weights, same output folder: refused, naming both hashes.
  write_safetensors_f32(dir + "/model.safetensors", fixture(2));
  try {
    decompose_model(dir, opt);
    FAIL() << "changed checkpoint silently reused";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(rep.source_hash), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Decompose, TwoProcessesResumeMatrixByMatrix) {
  auto dir = test::make_temp_dir("t2-decompose");
  write_safetensors_f32(dir + "/model.safetensors", fixture(3));
  DecomposeOptions opt;
  // the fixture's layers hold q, o, gate, up, down: "all" (MLP + q, v) adapts 4 of them per layer
  {
    auto names = adapted_weight_names(Checkpoint::open(dir), "all");
    EXPECT_EQ(names.size(), 8u);
    EXPECT_EQ(std::count_if(names.begin(), names.end(), [](auto& n) { return n.find("o_proj") != std::string::npos; }), 0);
    EXPECT_EQ(adapted_weight_names(Checkpoint::open(dir), "attn").size(), 2u);      // q only: no v in the fixture
    EXPECT_EQ(adapted_weight_names(Checkpoint::open(dir), "attn_qkvo").size(), 4u);  // q, o
  }
  opt.modules = "all_qkvo";
  opt.out_dir = dir + "/svd";
  opt.world = 2;
  opt.rank = 0;
  auto first = decompose_model(dir, opt);  // half of the matrices: no shard file yet
  EXPECT_TRUE(first.files.empty());
  opt.rank = 1;
  auto second = decompose_model(dir, opt);
  ASSERT_EQ(second.files.size(), 1u);
  ASSERT_EQ(second.matrices.size(), 10u);  // q, o, gate, up, down per layer
  EXPECT_EQ(second.matrices[0].name, "model.layers.0.self_attn.q_proj.weight");
  auto f = h5::File::open(second.files[0]);
  EXPECT_EQ(f.read_strings("names").size(), 10u);
  EXPECT_THROW(adapted_weight_names(Checkpoint::open(dir), "mlp+attn"), UsageError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t2
