// The memory planner against numbers worked out by hand from the Llama 3 shapes (METHOD.md §3.6),
// the 70B requirement of DESIGN.md decision 10, and config.json parsing errors.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "coordinator/memory-plan-model.h"
#include "core/error.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

uint64_t item_bytes(const PhasePlan& ph, const std::string& suffix) {
  for (const auto& i : ph.items)
    if (i.name.size() >= suffix.size() && i.name.compare(i.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return i.bytes;
  ADD_FAILURE() << "no item ending in '" << suffix << "'";
  return 0;
}

uint64_t item_prefix(const PhasePlan& ph, const std::string& prefix) {
  for (const auto& i : ph.items)
    if (i.name.rfind(prefix, 0) == 0) return i.bytes;
  ADD_FAILURE() << "no item starting with '" << prefix << "'";
  return 0;
}

TEST(MemoryPlan, Llama3_8bParameterAndZCounts) {
  const ModelShape s = llama3_8b_shape();
  // By hand: per layer q 4096², k and v 4096·1024, o 4096², gate/up/down 4096·14336, 2 norms.
  const int64_t per_layer = 4096LL * 4096 * 2 + 4096LL * 1024 * 2 + 4096LL * 14336 * 3 + 2 * 4096;
  const int64_t params = 32 * per_layer + 2 * 128256LL * 4096 + 4096;
  EXPECT_EQ(s.parameter_count(), params);
  EXPECT_EQ(params, 8030261248LL);  // the published "8.03B" of Meta-Llama-3-8B

  PlanSettings st;
  st.tp = 1;
  MemoryPlan p = plan_memory(s, st);
  ASSERT_TRUE(p.valid);
  EXPECT_EQ(p.adapted_matrices, 96);
  EXPECT_EQ(p.z_count, 393216);  // METHOD.md: "#params=393216"
  // bf16 weights: 16.06 GB.
  const uint64_t weights = item_bytes(p.evaluate, "weights shard");
  EXPECT_EQ(weights, static_cast<uint64_t>(params) * 2);
  EXPECT_NEAR(weights / 1e9, 16.06, 0.01);

  // gate_proj [14336×4096]: U 14336×4096, V 4096×4096, σ 4096.
  ASSERT_EQ(p.adapted.size(), 3u);
  const AdaptedMatrix& gate = p.adapted[0];
  EXPECT_EQ(gate.name, "gate_proj");
  EXPECT_EQ(gate.k, 4096);
  EXPECT_EQ(gate.u_elements, 14336LL * 4096);
  EXPECT_EQ(gate.v_elements, 4096LL * 4096);
  EXPECT_EQ(gate.sigma_elements, 4096);
  const AdaptedMatrix& down = p.adapted[2];
  EXPECT_EQ(down.name, "down_proj");
  EXPECT_FALSE(down.column_parallel);
  EXPECT_EQ(down.u_elements, 4096LL * 4096);
  EXPECT_EQ(down.v_elements, 14336LL * 4096);
  // All MLP factors in bf16: 14.5 GB (METHOD.md §2: "14.5 GB would suffice").
  const uint64_t factors = item_bytes(p.evaluate, "SVF factors U/sigma/V (mlp)");
  EXPECT_EQ(factors, 32ULL * 3 * (14336ULL * 4096 + 4096ULL * 4096 + 4096) * 2);
  EXPECT_NEAR(factors / 1e9, 14.50, 0.01);
  EXPECT_TRUE(p.evaluate.fits);
  EXPECT_TRUE(p.train.fits);
}

TEST(MemoryPlan, ZCountsForAttentionAndAll) {
  PlanSettings st;
  st.modules = SvfModules::attn;  // q and v: the paper's attention ablation, 0.16M (METHOD.md §3.6)
  EXPECT_EQ(plan_memory(llama3_8b_shape(), st).z_count, (4096 + 1024) * 32);
  st.modules = SvfModules::attn_qkvo;
  EXPECT_EQ(plan_memory(llama3_8b_shape(), st).z_count, (4096 + 1024 + 1024 + 4096) * 32);
  st.modules = SvfModules::all;  // MLP + q, v
  EXPECT_EQ(plan_memory(llama3_8b_shape(), st).z_count, 393216 + (4096 + 1024) * 32);
  st.modules = SvfModules::all_qkvo;
  EXPECT_EQ(plan_memory(llama3_8b_shape(), st).z_count, 720896);  // METHOD.md §3.6
  EXPECT_EQ(plan_memory(llama3_70b_shape(), PlanSettings{}).z_count, 1966080);
}

TEST(MemoryPlan, TensorParallelShardsFollowTheLayout) {
  PlanSettings st;
  st.tp = 8;
  MemoryPlan p = plan_memory(llama3_70b_shape(), st);
  ASSERT_TRUE(p.valid);
  // gate: column-parallel, U rows split (28672/8), V whole (8192×8192).
  EXPECT_EQ(p.adapted[0].u_per_rank, 3584LL * 8192);
  EXPECT_EQ(p.adapted[0].v_per_rank, 8192LL * 8192);
  // down: row-parallel, V rows split, U whole.
  EXPECT_EQ(p.adapted[2].u_per_rank, 8192LL * 8192);
  EXPECT_EQ(p.adapted[2].v_per_rank, 3584LL * 8192);
  // KV cache: 2·layers·(kv_heads/tp)·head_dim·tokens·batch·bytes.
  EXPECT_EQ(item_bytes(p.evaluate, "KV cache"), 2ULL * 80 * 1 * 128 * 2048 * 32 * 2);
  // weights per rank: a vocab-parallel embedding and head plus a 1/8 of every layer.
  const uint64_t layer = 8192ULL * 1024 * 2 + 8192ULL * 128 * 2 + 3ULL * 8192 * 3584 + 2 * 8192;
  EXPECT_EQ(item_bytes(p.evaluate, "weights shard"), (80 * layer + 2ULL * 16032 * 8192 + 8192) * 2);
}

TEST(MemoryPlan, Llama3_70bFitsAtTp8On80GbAndNotAtTp2) {
  PlanSettings st;
  st.tp = 8;
  st.gpu_memory_gb = 80;
  MemoryPlan p = plan_memory_with_alternatives(llama3_70b_shape(), st);
  ASSERT_TRUE(p.valid);
  EXPECT_TRUE(p.evaluate.fits) << memory_plan_text(p);
  EXPECT_TRUE(p.train.fits) << memory_plan_text(p);
  EXPECT_LE(p.train.total_bytes, 80e9);
  // The resident part alone: bf16 weights (70.55 B params / 8) and MLP factors.
  EXPECT_NEAR(item_prefix(p.train, "resident: weights") / 1e9, 70553706496.0 * 2 / 8 / 1e9, 0.1);

  bool tp2 = false, tp4 = false, big_batch = false;
  for (const auto& m : p.misfits) {
    if (m.setting == "tp 2") tp2 = true;
    if (m.setting == "tp 4") tp4 = true;
    if (m.setting.rfind("eval_batch", 0) == 0) big_batch = true;
  }
  EXPECT_TRUE(tp2) << memory_plan_text(p);
  EXPECT_TRUE(tp4) << memory_plan_text(p);
  EXPECT_TRUE(big_batch) << memory_plan_text(p);

  st.tp = 2;
  MemoryPlan p2 = plan_memory(llama3_70b_shape(), st);
  EXPECT_FALSE(p2.evaluate.fits);
  EXPECT_FALSE(p2.train.fits);
}

const PhasePlan& work_item(const MemoryPlan& p, const std::string& name) {
  for (const auto& ph : p.work_items)
    if (ph.phase == name) return ph;
  ADD_FAILURE() << "no work item '" << name << "'";
  static PhasePlan none;
  return none;
}

// The issue's acceptance numbers with the defaults (bf16 weights and factors, micro-batch 1,
// per-layer recomputation, 1024 + 1024 tokens, MLP): 8B trains on one 80 GB GPU, 70B at TP 8 on
// 8 x 80 GB; each work item, too.
TEST(MemoryPlan, DefaultsFit8bOnOneGpuAnd70bAtTp8WorkItemByWorkItem) {
  PlanSettings st;
  MemoryPlan p8 = plan_memory(llama3_8b_shape(), st);
  EXPECT_TRUE(p8.train.fits) << memory_plan_text(p8);
  ASSERT_EQ(p8.work_items.size(), 3u);
  for (const auto& ph : p8.work_items) EXPECT_TRUE(ph.fits) << ph.phase << "\n" << memory_plan_text(p8);
  st.tp = 8;
  MemoryPlan p70 = plan_memory(llama3_70b_shape(), st);
  EXPECT_TRUE(p70.evaluate.fits && p70.train.fits) << memory_plan_text(p70);
  for (const auto& ph : p70.work_items) EXPECT_TRUE(ph.fits) << ph.phase << "\n" << memory_plan_text(p70);
  std::cout << memory_plan_text(p70);
}

// The work items' terms move the way the runtime's memory does.
TEST(MemoryPlan, WorkItemsFollowMicroBatchRecomputeKlAndDevice) {
  ModelShape s = llama3_8b_shape();
  s.layers = 2;
  PlanSettings st;
  st.device = PlanDevice::cpu;
  st.runtime_overhead_gb = kCpuProcessBaselineGb;
  st.weight_bytes = st.factor_bytes = 4;
  st.fused_attention = false;
  st.max_prompt_tokens = 64;
  st.max_new_tokens = 64;
  st.train_micro_batch = 4;
  const MemoryPlan base = plan_memory(s, st);
  const uint64_t grad = work_item(base, "grad item").total_bytes;
  // No compose workspace in items (factored forward); the CPU baseline instead of a CUDA context.
  for (const auto& i : work_item(base, "grad item").items) {
    EXPECT_EQ(i.name.find("compose"), std::string::npos) << i.name;
    EXPECT_EQ(i.name.find("CUDA"), std::string::npos) << i.name;
  }
  EXPECT_EQ(item_prefix(work_item(base, "evaluate item"), "resident: process baseline"), 200000000u);

  // Log-softmax, saved blocks and gradient: 4 x rows x vocab x 4 B plus one block.
  const uint64_t rows = 4 * 64;
  EXPECT_GE(item_prefix(work_item(base, "grad item"), "grad: log-softmax"), 4 * rows * 128256 * 4);

  PlanSettings kl = st;
  kl.kl_reference = true;
  EXPECT_EQ(work_item(plan_memory(s, kl), "grad item").total_bytes - grad, 4 * rows * 128256 * 4);

  PlanSettings all = st;
  all.recompute = Recompute::none;
  EXPECT_GT(work_item(plan_memory(s, all), "grad item").total_bytes, grad);

  PlanSettings mb = st;
  mb.train_micro_batch = 1;
  EXPECT_LT(work_item(plan_memory(s, mb), "grad item").total_bytes, grad);

  // bf16 serving halves weights and factors; a bf16 checkpoint on the CPU is mapped in place and
  // its embedding table is not resident.
  PlanSettings half = st;
  half.weight_bytes = half.factor_bytes = 2;
  const uint64_t w32 = item_prefix(work_item(base, "evaluate item"), "resident: weights");
  const MemoryPlan h = plan_memory(s, half);
  EXPECT_EQ(item_prefix(work_item(h, "evaluate item"), "resident: weights"), w32 / 2);
  s.checkpoint_bytes = 2;
  const MemoryPlan mapped = plan_memory(s, half);
  EXPECT_EQ(item_prefix(work_item(mapped, "evaluate item"), "resident: weights"), w32 / 2 - 128256ULL * 4096 * 2);
}

TEST(MemoryPlan, BatchThatDoesNotFitIsNamedWithItsKvCache) {
  PlanSettings st;
  st.tp = 8;
  st.eval_batch = 256;
  st.max_prompt_tokens = 1024;
  st.max_new_tokens = 1024;
  MemoryPlan p = plan_memory(llama3_70b_shape(), st);
  EXPECT_FALSE(p.evaluate.fits);
  EXPECT_GT(item_bytes(p.evaluate, "KV cache"), 20e9);
}

TEST(MemoryPlan, InvalidTpIsReported) {
  PlanSettings st;
  st.tp = 3;
  MemoryPlan p = plan_memory(llama3_70b_shape(), st);
  EXPECT_FALSE(p.valid);
  EXPECT_NE(p.invalid_reason.find("64 attention heads"), std::string::npos) << p.invalid_reason;
  // tp 16 > 8 KV heads: the KV heads are replicated, which is a valid layout.
  st.tp = 16;
  MemoryPlan p16 = plan_memory(llama3_70b_shape(), st);
  EXPECT_TRUE(p16.valid) << p16.invalid_reason;
}

TEST(MemoryPlan, ShapeFromTheRuntimesConfigParser) {
  // The real Meta-Llama-3-70B-Instruct config.json (the keys that matter).
  const std::string text = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_act": "silu", "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64,
    "num_hidden_layers": 80, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0, "max_position_embeddings": 8192, "tie_word_embeddings": false,
    "bos_token_id": 128000, "eos_token_id": 128009, "torch_dtype": "bfloat16"})";
  const std::string dir = test::make_temp_dir("plan-config");
  {
    std::ofstream f(dir + "/config.json");
    f << text;
  }
  ModelShape s = model_shape_from_path(dir);
  EXPECT_EQ(s.parameter_count(), llama3_70b_shape().parameter_count());
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.kv_heads, 8);
  PlanSettings st;
  st.tp = 8;
  EXPECT_TRUE(plan_memory(s, st).train.fits);
  EXPECT_THROW(model_shape_from_path(dir + "/missing"), UsageError);
  {
    std::ofstream f(dir + "/config.json");
    f << R"({"hidden_size": 8192,)";
  }
  EXPECT_THROW(model_shape_from_path(dir), FormatError);
  std::system(("rm -rf " + dir).c_str());
}

TEST(MemoryPlan, JsonCarriesEveryPhase) {
  PlanSettings st;
  st.tp = 8;
  MemoryPlan p = plan_memory_with_alternatives(llama3_70b_shape(), st);
  auto j = memory_plan_json(p);
  EXPECT_EQ(j["z_count"], 1966080);
  EXPECT_TRUE(j["phases"]["evaluate"]["fits"].get<bool>());
  EXPECT_TRUE(j["phases"]["train-svf"]["fits"].get<bool>());
  uint64_t sum = 0;
  for (const auto& i : j["phases"]["evaluate"]["items"]) sum += i["bytes"].get<uint64_t>();
  EXPECT_EQ(sum, j["phases"]["evaluate"]["total_bytes"].get<uint64_t>());
  EXPECT_FALSE(j["does_not_fit"].empty());
}

}  // namespace
}  // namespace t2
