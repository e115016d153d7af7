// The C++ forward, generation and scoring against the independent Python reference
// (tests/workers/fixtures/reference.py, float64, no cache) on random tiny checkpoints of each family.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

using test::make_fixture;
using test::reference;
using test::some_ids;

struct Family {
  std::string tag;
  std::vector<std::string> args;
};

// GQA untied F32; Llama 3 rope scaling, tied, BF16, sharded with an index; Mistral MHA F16;
// Qwen2 biases, tied, vocabulary not divisible by 2.
const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"llama", {"--family", "llama", "--seed", "1", "--heads", "4", "--kv-heads", "2"}},
      {"llama3", {"--family", "llama3", "--seed", "2", "--heads", "4", "--kv-heads", "1", "--tie", "--dtype", "BF16",
                  "--shards", "3", "--head-dim", "32"}},
      {"mistral", {"--family", "mistral", "--seed", "3", "--heads", "4", "--kv-heads", "4", "--dtype", "F16"}},
      {"qwen2", {"--family", "qwen2", "--seed", "4", "--heads", "4", "--kv-heads", "2", "--tie", "--vocab", "131"}},
  };
  return f;
}

std::vector<float> to_vec(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class ParityTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityTest, LogitsGreedyAndScoresMatchReference) {
  const Family& f = families()[GetParam()];
  std::string dir = make_fixture(f.tag, f.args);
  auto model = Model::load(dir, {});
  const int V = static_cast<int>(model->config().vocab_size);

  std::vector<std::vector<int32_t>> prompts;
  for (int len : {1, 5, 17, 40}) prompts.push_back(some_ids(len, V, static_cast<uint32_t>(len)));
  std::vector<std::vector<int32_t>> conts = {some_ids(6, V, 77), some_ids(3, V, 78), some_ids(1, V, 79),
                                             some_ids(5, V, 80)};
  // one reference run: logits of every prompt, 64 greedy tokens of every prompt, scores
  auto ref = reference("all", dir, prompts, conts, 64);
  const auto& gen_prompts = prompts;
  const auto& ref_gen = ref;

  // Logits, each prompt alone (no padding), several lengths.
  for (size_t i = 0; i < prompts.size(); ++i) {
    torch::NoGradGuard ng;
    torch::Tensor ids = torch::tensor(std::vector<int64_t>(prompts[i].begin(), prompts[i].end())).unsqueeze(0);
    torch::Tensor lg = model->forward_logits(ids).squeeze(0);
    const auto& r = ref["logits"][i];
    ASSERT_EQ(lg.size(0), static_cast<int64_t>(r.size()));
    double maxdiff = 0;
    auto acc = lg.accessor<float, 2>();
    for (int64_t t = 0; t < lg.size(0); ++t)
      for (int64_t v = 0; v < lg.size(1); ++v)
        maxdiff = std::max(maxdiff, std::abs(acc[t][v] - r[t][v].get<double>()));
    EXPECT_LE(maxdiff, 1e-4) << f.tag << " prompt length " << prompts[i].size();
    std::printf("  %s, prompt length %zu: max |logit - reference| = %.2e\n", f.tag.c_str(), prompts[i].size(), maxdiff);
  }

  // Greedy generation of 64 tokens, batched (different prompt lengths, left padding, cache).
  GenerateOptions go;
  go.max_new_tokens = 64;
  go.use_config_eos = false;
  auto gens = model->generate(gen_prompts, go);
  for (size_t i = 0; i < gen_prompts.size(); ++i) {
    auto want = ref_gen["ids"][i].get<std::vector<int32_t>>();
    EXPECT_EQ(gens[i].ids, want) << f.tag << " greedy sequence " << i;
    EXPECT_EQ(gens[i].stop_reason, "length");
  }

  // Scoring: batched continuation log-probs.
  auto scores = model->score(gen_prompts, conts, false);
  for (size_t i = 0; i < conts.size(); ++i) {
    auto want = ref_gen["logprobs"][i].get<std::vector<double>>();
    auto got = to_vec(scores[i]);
    ASSERT_EQ(got.size(), want.size());
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-4) << f.tag << " score " << i << "," << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ParityTest, ::testing::Range<size_t>(0, 4),
                         [](const auto& info) { return families()[info.param].tag; });

// The log-probs that generation reports (KV cache, one token at a time) equal the log-probs of the
// same ids recomputed by a full forward without cache; batched equals one by one.
TEST(ModelCache, CachedDecodingEqualsFullRecomputeAndBatchedEqualsSingle) {
  std::string dir = make_fixture("llama", families()[0].args);
  auto model = Model::load(dir, {});
  const int V = static_cast<int>(model->config().vocab_size);
  std::vector<std::vector<int32_t>> prompts = {some_ids(3, V, 5), some_ids(11, V, 6), some_ids(1, V, 7),
                                               some_ids(25, V, 8)};
  GenerateOptions go;
  go.max_new_tokens = 20;
  go.use_config_eos = false;
  // a stop id that some sequences hit: dropped rows must not disturb the others
  auto probe = model->generate({prompts[0]}, go);
  go.eos_ids = {probe[0].ids[7]};
  auto batched = model->generate(prompts, go);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto single = model->generate({prompts[i]}, go);
    EXPECT_EQ(single[0].ids, batched[i].ids) << "sequence " << i;
    ASSERT_EQ(single[0].logprobs.size(), batched[i].logprobs.size());
    for (size_t j = 0; j < single[0].logprobs.size(); ++j)
      EXPECT_NEAR(single[0].logprobs[j], batched[i].logprobs[j], 1e-5);
    auto full = to_vec(model->score({prompts[i]}, {batched[i].ids}, false)[0]);
    ASSERT_EQ(full.size(), batched[i].logprobs.size());
    for (size_t j = 0; j < full.size(); ++j) EXPECT_NEAR(full[j], batched[i].logprobs[j], 1e-4) << i << "," << j;
  }
  EXPECT_EQ(batched[0].stop_reason, "eos");
  EXPECT_EQ(batched[0].ids.size(), 8u);
  // Batched scoring equals one by one.
  std::vector<std::vector<int32_t>> conts;
  for (const auto& g : batched) conts.push_back(g.ids);
  auto sb = model->score(prompts, conts, false);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto a = to_vec(sb[i]), b = to_vec(model->score({prompts[i]}, {conts[i]}, false)[0]);
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-5);
  }
}

TEST(ModelSampling, SeededSamplingIsReproducibleAndTopPZeroIsGreedy) {
  std::string dir = make_fixture("llama", families()[0].args);
  auto model = Model::load(dir, {});
  std::vector<std::vector<int32_t>> prompts = {some_ids(4, 128, 1), some_ids(9, 128, 2)};
  GenerateOptions go;
  go.max_new_tokens = 24;
  go.use_config_eos = false;
  go.temperature = 1.5;
  go.top_p = 0.95;
  go.seed = 42;
  auto a = model->generate(prompts, go);
  auto b = model->generate(prompts, go);
  auto alone = model->generate({prompts[1]}, go);  // sequence 1's stream does not depend on the batch...
  go.seed = 43;
  auto c = model->generate(prompts, go);
  EXPECT_EQ(a[0].ids, b[0].ids);
  EXPECT_EQ(a[1].ids, b[1].ids);
  EXPECT_NE(a[0].ids, c[0].ids);
  EXPECT_EQ(alone[0].ids.size(), 24u);
  // a tiny nucleus keeps only the most probable token: sampling degenerates to greedy
  go.top_p = 1e-9;
  auto nucleus = model->generate(prompts, go);
  GenerateOptions greedy;
  greedy.max_new_tokens = 24;
  greedy.use_config_eos = false;
  auto g = model->generate(prompts, greedy);
  EXPECT_EQ(nucleus[0].ids, g[0].ids);
  EXPECT_EQ(nucleus[1].ids, g[1].ids);
}

TEST(ModelStops, StopStringsCutTheTextAndEosIsKeptInIds) {
  std::string dir = make_fixture("llama", families()[0].args);
  auto model = Model::load(dir, {});
  // A detokenizer that spells id i as "<i>".
  Detokenizer detok = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += "<" + std::to_string(i) + ">";
    return s;
  };
  std::vector<int32_t> prompt = some_ids(6, 128, 3);
  GenerateOptions go;
  go.max_new_tokens = 16;
  go.use_config_eos = false;
  auto free_run = model->generate({prompt}, go, detok)[0];
  ASSERT_EQ(free_run.ids.size(), 16u);
  EXPECT_EQ(free_run.text, detok(free_run.ids));
  // stop at the text of the 5th token
  go.stop_strings = {"<" + std::to_string(free_run.ids[4]) + ">"};
  auto stopped = model->generate({prompt}, go, detok)[0];
  EXPECT_EQ(stopped.stop_reason, "stop_string");
  size_t first = 0;
  while (free_run.ids[first] != free_run.ids[4]) ++first;
  EXPECT_EQ(stopped.ids.size(), first + 1);
  EXPECT_EQ(stopped.text, detok(std::vector<int32_t>(free_run.ids.begin(), free_run.ids.begin() + first)));
  // EOS: kept in ids and log-probs, left out of the text
  go.stop_strings.clear();
  go.eos_ids = {free_run.ids[2]};
  auto eos = model->generate({prompt}, go, detok)[0];
  EXPECT_EQ(eos.stop_reason, "eos");
  EXPECT_EQ(eos.ids.back(), free_run.ids[2]);
  EXPECT_EQ(eos.logprobs.size(), eos.ids.size());
  EXPECT_EQ(eos.text, detok(std::vector<int32_t>(eos.ids.begin(), eos.ids.end() - 1)));
}

TEST(ModelErrors, BadRequestsAreUsageErrors) {
  std::string dir = make_fixture("llama", families()[0].args);
  auto model = Model::load(dir, {});
  GenerateOptions go;
  go.max_new_tokens = 4;
  EXPECT_THROW(model->generate({{}}, go), UsageError);
  EXPECT_THROW(model->generate({{1, 999}}, go), UsageError);
  go.max_new_tokens = 100000;
  EXPECT_THROW(model->generate({{1}}, go), UsageError);
  EXPECT_THROW(model->score({{1}}, {{2}, {3}}, false), UsageError);
  EXPECT_THROW(model->set_weight("model.layers.0.mlp.gate_prj", torch::zeros({1, 1})), UsageError);
  EXPECT_THROW(model->set_weight("model.layers.0.mlp.gate_proj", torch::zeros({1, 1})), UsageError);
  LoadOptions lo;
  lo.dtype = "float64";
  EXPECT_THROW(Model::load(dir, lo), UsageError);
}

}  // namespace
}  // namespace t2
