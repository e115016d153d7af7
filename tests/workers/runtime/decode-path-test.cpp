// The decode hot path against the general one it shortcuts: one row (gemv, or the one-row kernel)
// equals the same row inside a GEMM batch; the small-row kernels equal a float64 product; the KV
// cache reused across generate calls and compacted in place when sequences finish gives what a fresh
// cache gives; weights served in place from the mapped checkpoint can be overwritten (set_weight)
// without touching the file, and weights copied out of it (another dtype) are held once, not beside
// the file's pages; decode attention read straight from the cache equals a float64 masked softmax
// attention.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/decode-attention.h"
#include "workers/kv-cache.h"
#include "workers/linear-rows.h"
#include "workers/model.h"
#include "workers/safetensors.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

using test::make_fixture;
using test::some_ids;

const std::vector<std::string> kLlama = {"--family", "llama", "--seed", "1", "--heads", "4", "--kv-heads", "2"};
const std::vector<std::string> kQwenF16 = {"--family", "qwen2", "--seed", "4", "--heads", "4", "--kv-heads", "2",
                                           "--dtype", "F16"};

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

TEST(DecodePath, OneRowGemvEqualsTheRowInAGemmBatch) {
  for (const auto& args : {kLlama, kQwenF16}) {  // in place (F32, unfused) and converted (fused, biases)
    auto model = Model::load(make_fixture(args[1] + args.back(), args), {});
    torch::NoGradGuard ng;
    const int64_t d = model->config().hidden_size;
    torch::Tensor h = torch::randn({3, d}, torch::TensorOptions().dtype(torch::kFloat));
    torch::Tensor batched = model->logits(h);
    for (int64_t r = 0; r < 3; ++r)
      EXPECT_LE(max_abs_diff(model->logits(h.narrow(0, r, 1)), batched.narrow(0, r, 1)), 1e-5) << args[1];
    // the whole forward: a one-row decode (gemv everywhere) against the same prompt in a batch of two
    std::vector<int32_t> p = some_ids(9, 128, 11);
    GenerateOptions go;
    go.max_new_tokens = 12;
    go.use_config_eos = false;
    auto one = model->generate({p}, go)[0];
    auto two = model->generate({p, some_ids(4, 128, 12)}, go)[0];
    EXPECT_EQ(one.ids, two.ids) << args[1];
    ASSERT_EQ(one.logprobs.size(), two.logprobs.size());
    for (size_t i = 0; i < one.logprobs.size(); ++i) EXPECT_NEAR(one.logprobs[i], two.logprobs[i], 1e-4) << args[1];
  }
}

TEST(DecodePath, SmallBatchKernelEqualsGemm) {
  torch::NoGradGuard ng;
  torch::manual_seed(5);
  bool ran = false;
  // one row (its own streaming kernel) and every remainder of the 4-row blocks; {520, 768} is large
  // enough (1 MB) that rows_times_weight takes the kernels
  for (int64_t M : {1, 2, 3, 5, 6, 16, 31, 32}) {
    for (auto [out, in] :
         std::vector<std::pair<int64_t, int64_t>>{{4, 16}, {7, 48}, {130, 768}, {2048, 64}, {520, 768}, {3, 80}}) {
      torch::Tensor x = torch::randn({M, in}), w = torch::randn({out, in}), b = torch::randn({out});
      torch::Tensor y;
      if (!small_rows_times_weight(x, w, y)) continue;
      ran = true;
      torch::Tensor ref = torch::mm(x.to(torch::kDouble), w.to(torch::kDouble).t());
      EXPECT_LE(max_abs_diff(y, ref), 1e-5 * std::sqrt(static_cast<double>(in))) << M << " x " << out << " x " << in;
      EXPECT_LE(max_abs_diff(rows_times_weight(x, w, b), ref + b.to(torch::kDouble)),
                1e-5 * std::sqrt(static_cast<double>(in)));
    }
  }
  // never taken where it does not apply: no rows, more than 32, a width not a multiple of 16, autograd
  torch::Tensor y;
  EXPECT_FALSE(small_rows_times_weight(torch::randn({0, 32}), torch::randn({8, 32}), y));
  EXPECT_FALSE(small_rows_times_weight(torch::randn({33, 32}), torch::randn({8, 32}), y));
  EXPECT_FALSE(small_rows_times_weight(torch::randn({4, 40}), torch::randn({8, 40}), y));
  {
    torch::AutoGradMode g(true);
    EXPECT_FALSE(small_rows_times_weight(torch::randn({4, 32}, torch::requires_grad()), torch::randn({8, 32}), y));
  }
  if (!ran) GTEST_SKIP() << "no AVX-512 on this CPU: the small-batch kernel is not used";
}

TEST(DecodePath, DecodeAttentionEqualsMaskedSoftmaxAttention) {
  torch::NoGradGuard ng;
  torch::manual_seed(9);
  // grouped heads (G = 3), K/V as views of a larger cache (capacity 11, 7 slots filled), padding
  // slots masked; head widths with and without the 16-wide path
  for (int64_t D : {16, 12}) {
    const int64_t B = 3, KVH = 2, G = 3, H = KVH * G, cap = 11, S = 7;
    torch::Tensor q = torch::randn({B, H, 1, D});
    torch::Tensor Kc = torch::randn({B, KVH, cap, D}), Vc = torch::randn({B, KVH, cap, D});
    torch::Tensor K = Kc.narrow(2, 0, S), V = Vc.narrow(2, 0, S);
    torch::Tensor vis = torch::ones({B, 1, 1, 1, S}, torch::kBool);
    vis[0][0][0][0][0] = false;
    vis[0][0][0][0][1] = false;
    vis[2][0][0][0][3] = false;
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    bool ok = false;
    torch::Tensor out = decode_attention(q, K, V, vis, scale, ok);
    ASSERT_TRUE(ok);
    // float64 reference, head h reading kv head h / G
    torch::Tensor Kr = K.to(torch::kDouble).repeat_interleave(G, 1), Vr = V.to(torch::kDouble).repeat_interleave(G, 1);
    torch::Tensor s = torch::matmul(q.to(torch::kDouble), Kr.transpose(-1, -2)) * scale;  // [B, H, 1, S]
    s = s.masked_fill(vis.view({B, 1, 1, S}).logical_not(), -std::numeric_limits<double>::infinity());
    torch::Tensor ref = torch::matmul(torch::softmax(s, -1), Vr).transpose(1, 2).reshape({B, 1, H * D});
    EXPECT_LE(max_abs_diff(out, ref), 1e-5) << "head dim " << D;
  }
  // refused (the caller takes the general path): another dtype, autograd, more than one query
  bool ok = true;
  torch::Tensor K = torch::randn({1, 1, 4, 16});
  decode_attention(torch::randn({1, 2, 1, 16}, torch::kDouble), K.to(torch::kDouble), K.to(torch::kDouble),
                   torch::ones({1, 4}, torch::kBool), 1.0, ok);
  EXPECT_FALSE(ok);
  decode_attention(torch::randn({1, 2, 2, 16}), K, K, torch::ones({1, 4}, torch::kBool), 1.0, ok);
  EXPECT_FALSE(ok);
  {
    torch::AutoGradMode g(true);
    decode_attention(torch::randn({1, 2, 1, 16}, torch::requires_grad()), K, K, torch::ones({1, 4}, torch::kBool),
                     1.0, ok);
    EXPECT_FALSE(ok);
  }
}

TEST(DecodePath, ReusedAndCompactedCacheEqualsAFreshOne) {
  std::string dir = make_fixture("llama", kLlama);
  auto warm = Model::load(dir, {});
  GenerateOptions go;
  go.max_new_tokens = 16;
  go.use_config_eos = false;
  std::vector<std::vector<int32_t>> big, small = {some_ids(2, 128, 40)};
  for (int i = 0; i < 6; ++i) big.push_back(some_ids(1 + 5 * i, 128, static_cast<uint32_t>(30 + i)));
  // sequences finishing at different steps make the cache compact several times
  auto probe = warm->generate(big, go);
  go.eos_ids = {probe[1].ids[3], probe[4].ids[9], probe[5].ids[1]};
  auto first = warm->generate(big, go);
  auto after_small = warm->generate(small, go);  // reuses the larger storage with another shape
  auto again = warm->generate(big, go);
  for (size_t i = 0; i < big.size(); ++i) {
    auto fresh = Model::load(dir, {})->generate({big[i]}, go)[0];
    EXPECT_EQ(first[i].ids, fresh.ids) << "sequence " << i;
    EXPECT_EQ(again[i].ids, fresh.ids) << "sequence " << i;
    ASSERT_EQ(again[i].logprobs.size(), fresh.logprobs.size());
    for (size_t j = 0; j < fresh.logprobs.size(); ++j) EXPECT_NEAR(again[i].logprobs[j], fresh.logprobs[j], 1e-5);
  }
  EXPECT_EQ(after_small[0].ids, Model::load(dir, {})->generate(small, go)[0].ids);
  int stopped = 0;
  for (const auto& g : first) stopped += g.stop_reason == "eos";
  EXPECT_GE(stopped, 2);
}

TEST(DecodePath, KeepRowsMovesOnlyFilledSlotsOfTheMovedRows) {
  KVCache c(2, 5, 2, 8, 4, torch::kFloat, torch::Device(torch::kCPU));
  std::vector<torch::Tensor> ks, vs;
  for (int l = 0; l < 2; ++l) {
    ks.push_back(torch::randn({5, 2, 3, 4}));
    vs.push_back(torch::randn({5, 2, 3, 4}));
    c.append(l, ks.back(), vs.back());
  }
  c.valid().narrow(1, 0, 3).fill_(true);
  c.valid()[2][0] = false;
  c.advance(3);
  // rows 1, 3, 4 continue: row 0 takes row 3, row 1 stays, row 2 takes row 4
  auto keep = KVCache::compaction_order({1, 3, 4});
  EXPECT_EQ(keep, (std::vector<int64_t>{3, 1, 4}));
  c.keep_rows(keep);
  EXPECT_EQ(c.batch(), 3);
  EXPECT_EQ(c.length(), 3);
  torch::Tensor rows = torch::tensor(keep, torch::kLong);
  for (int l = 0; l < 2; ++l) {
    auto kv = c.append(l, torch::zeros({3, 2, 1, 4}), torch::zeros({3, 2, 1, 4}));
    EXPECT_TRUE(torch::equal(kv.first.narrow(2, 0, 3), ks[l].index_select(0, rows)));
    EXPECT_TRUE(torch::equal(kv.second.narrow(2, 0, 3), vs[l].index_select(0, rows)));
  }
  EXPECT_TRUE(c.valid()[0][0].item<bool>());
  EXPECT_TRUE(c.valid()[2][0].item<bool>());
  EXPECT_EQ(KVCache::compaction_order({0, 1, 2}), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(KVCache::compaction_order({4}), (std::vector<int64_t>{4}));
}

TEST(DecodePath, WeightsServedInPlaceAreCopyOnWrite) {
  std::string dir = make_fixture("llama", kLlama);
  auto a = Model::load(dir, {});
  const std::string name = "model.layers.0.self_attn.q_proj";
  torch::Tensor before = a->weight(name).clone();
  GenerateOptions go;
  go.max_new_tokens = 8;
  go.use_config_eos = false;
  std::vector<int32_t> p = some_ids(5, 128, 3);
  auto base = a->generate({p}, go)[0];
  a->set_weight(name, torch::zeros_like(before));
  EXPECT_EQ(a->weight(name).abs().max().item<float>(), 0.0f);
  auto changed = a->generate({p}, go)[0];
  EXPECT_NE(changed.logprobs, base.logprobs);
  auto b = Model::load(dir, {});  // the file (and another model mapping it) still has the original weights
  EXPECT_TRUE(torch::equal(b->weight(name), before));
  EXPECT_EQ(b->generate({p}, go)[0].ids, base.ids);
}

// Peak resident set (MiB) of `argv` run to completion with one thread; -1 when it fails.
double peak_rss_mib(const std::vector<std::string>& argv) {
  std::fflush(nullptr);  // the child must not repeat this process's buffered output
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("OMP_NUM_THREADS", "1", 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    if (std::freopen("/dev/null", "w", stdout) == nullptr) std::_Exit(126);
    ::execv(a[0], a.data());
    std::_Exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (pid < 0 || ::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// A checkpoint converted to the serving dtype gives the file's pages back as it copies them: the
// model adds about its serving bytes to the process, not serving bytes + file bytes. Measured as
// `t2 generate`'s peak over the same binary without a model (`t2 --version`), so LibTorch's own
// resident set is left out. 45 M parameters (untied 32k vocabulary): 173 MiB in fp32, 87 MiB in bf16.
// Measured: bf16 served as fp32 adds 186 MiB, fp32 served as bf16 98 MiB (each about 12 MiB of
// generation buffers); keeping the file's pages beside the copies would add 87 and 173 MiB more.
// Served in place, only the pages read are resident (the embedding's looked-up rows).
TEST(DecodePath, ConvertedWeightsAreHeldOnce) {
  const std::vector<std::string> shape = {"--family", "llama", "--seed", "2", "--hidden", "512", "--layers", "4",
                                          "--heads", "8", "--kv-heads", "8", "--intermediate", "1376", "--vocab",
                                          "32000"};
  auto with = [&](const std::string& dtype) {
    auto a = shape;
    a.insert(a.end(), {"--dtype", dtype});
    return a;
  };
  const std::string f32 = make_fixture("held-once-f32", with("F32")), bf16 = make_fixture("held-once-bf16", with("BF16"));
  double params = 0;
  Checkpoint ck = Checkpoint::open(f32);
  for (const auto& n : ck.names()) params += static_cast<double>(ck.info(n).numel());
  const double bare = peak_rss_mib({test::t2_binary(), "--version"});
  ASSERT_GT(bare, 0);
  struct Case {
    std::string dir, serve;
    double bytes;
  };
  for (const Case& c : {Case{bf16, "fp32", 4 * params}, Case{f32, "bf16", 2 * params}, Case{f32, "fp32", 4 * params},
                        Case{bf16, "bf16", 2 * params}}) {
    const double peak = peak_rss_mib({test::t2_binary(), "generate", c.dir, "--prompt-ids", "1,2,3",
                                      "--max-new-tokens", "4", "--dtype", c.serve});
    ASSERT_GT(peak, 0) << c.dir << " as " << c.serve;
    const double model_mib = peak - bare, serving_mib = c.bytes / 1048576.0;
    // one 16 MB block of source pages may be mapped beside the copies while it is converted
    EXPECT_LE(model_mib, 1.05 * serving_mib + 20) << c.dir << " served as " << c.serve << ": the model adds "
                                                   << model_mib << " MiB for " << serving_mib << " MiB of weights";
    std::printf("%s served as %s: %.1f MiB above the bare process for %.1f MiB of weights (%.3fx)\n",
                c.dir.c_str(), c.serve.c_str(), model_mib, serving_mib, model_mib / serving_mib);
  }
}

}  // namespace
}  // namespace t2
