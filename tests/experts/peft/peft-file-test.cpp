// The PEFT layout: adapters written by t2 are read back by an independent Python reader (hand-parsed
// safetensors) with PEFT's names, shapes and config keys and the same values; t2 reads the folder
// back and the re-attached adapter computes the same logits; malformed folders are refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "experts/peft-file.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

const std::vector<std::string> kArgs = {"--family", "llama", "--seed", "31", "--heads", "4", "--kv-heads", "2"};

// An adapter with non-trivial values (as after training).
PeftAdapter trained(Model& m, PeftMethod method) {
  PeftConfig c;
  c.method = method;
  c.r = 4;
  c.lora_alpha = 8;
  c.base_model_name_or_path = "tiny-llama";
  auto a = peft_init(m, c, 3);
  torch::manual_seed(9);
  for (auto& [_, f] : a.lora) {
    f.B = 0.05 * torch::randn(f.B.sizes());
    if (f.dora()) f.magnitude = f.magnitude * (1 + 0.1 * torch::rand(f.magnitude.sizes()));
  }
  for (auto& [_, v] : a.ia3) v.l = 1 + 0.2 * torch::randn(v.l.sizes());
  return a;
}

std::map<std::string, torch::Tensor> named_tensors(const PeftAdapter& a) {
  std::map<std::string, torch::Tensor> t;
  for (const auto& [m, f] : a.lora) {
    t[peft_key(m, "lora_A.weight")] = f.A;
    t[peft_key(m, "lora_B.weight")] = f.B;
    if (f.dora()) t[peft_key(m, "lora_magnitude_vector")] = f.magnitude;
  }
  for (const auto& [m, v] : a.ia3) t[peft_key(m, "ia3_l")] = v.l;
  return t;
}

class PeftFile : public ::testing::TestWithParam<PeftMethod> {};

TEST_P(PeftFile, PythonReadsPeftNamesShapesAndValuesAndT2ReadsItBack) {
  const std::string dir = test::make_fixture("peft-file-llama", kArgs);
  auto m = Model::load(dir, {});
  auto a = trained(*m, GetParam());
  const std::string out = test::make_temp_dir("t2-peft-file");
  write_peft(out, a);

  auto r = run_subprocess({test::python3(), test::source_dir() + "/tests/experts/peft/check_peft.py", out, dir,
                           peft_method_name(GetParam())},
                          SubprocessOptions{Seconds(120)});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  auto got = nlohmann::json::parse(r.out);
  auto mine = named_tensors(a);
  ASSERT_EQ(got.size(), mine.size());
  for (const auto& [name, t] : mine) {
    ASSERT_TRUE(got.contains(name)) << name;
    EXPECT_NEAR(got[name][1].get<double>(), t.sum().item<double>(), 1e-3 * (1 + t.abs().sum().item<double>())) << name;
    EXPECT_NEAR(got[name][2].get<double>(), t.pow(2).sum().item<double>(), 1e-4 * (1 + t.pow(2).sum().item<double>()))
        << name;
  }
  // the defaults of the paper's settings land in the config
  auto cfg = nlohmann::json::parse(read_file(out + "/adapter_config.json"));
  if (GetParam() != PeftMethod::ia3) {
    EXPECT_EQ(cfg["target_modules"], nlohmann::json({"q_proj", "v_proj"}));
    EXPECT_EQ(cfg["r"], 4);
    EXPECT_EQ(cfg["lora_alpha"], 8);
    EXPECT_EQ(cfg["task_type"], "CAUSAL_LM");
    EXPECT_EQ(cfg["base_model_name_or_path"], "tiny-llama");
  } else {
    EXPECT_EQ(cfg["feedforward_modules"], nlohmann::json({"down_proj"}));
  }

  // t2 reads it back: same tensors, same logits once attached
  auto b = read_peft(out);
  EXPECT_EQ(b.config.method, GetParam());
  auto back = named_tensors(b);
  ASSERT_EQ(back.size(), mine.size());
  for (const auto& [name, t] : mine) EXPECT_TRUE(torch::equal(back[name], t.to(torch::kFloat))) << name;
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{4, 8, 15, 16, 23, 42}).unsqueeze(0);
  torch::NoGradGuard ng;
  auto base = m->forward_logits(ids);
  peft_attach(*m, a, false);
  auto la = m->forward_logits(ids);
  m->clear_adapters();
  peft_attach(*m, b, false);
  auto lb = m->forward_logits(ids);
  EXPECT_TRUE(torch::equal(la, lb));
  EXPECT_GT((la - base).abs().max().item<double>(), 1e-3);
  std::filesystem::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Methods, PeftFile, ::testing::Values(PeftMethod::lora, PeftMethod::dora, PeftMethod::ia3),
                         [](const auto& i) { return std::string(peft_method_name(i.param)); });

// `t2 generate --peft DIR` evaluates with the adapter: the same greedy tokens and log-probs as the
// adapter attached in process, and different from the base model's.
TEST(PeftFileCli, GenerateWithPeftAdapterMatchesInProcess) {
  const std::string dir = test::make_fixture("peft-file-llama", kArgs);
  auto m = Model::load(dir, {});
  auto a = trained(*m, PeftMethod::dora);
  for (auto& [_, f] : a.lora) f.B = f.B * 20;  // strong enough to change the greedy tokens
  const std::string out = test::make_temp_dir("t2-peft-cli");
  write_peft(out, a);
  GenerateOptions go;
  go.max_new_tokens = 8;
  go.use_config_eos = false;
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65};
  auto base = m->generate({prompt}, go);
  peft_attach(*m, a, false);
  auto want = m->generate({prompt}, go);
  auto r = run_subprocess({test::t2_binary(), "generate", dir, "--prompt-ids", "3,14,15,92,65", "--max-new-tokens", "8",
                           "--json", "--peft", out},
                          SubprocessOptions{Seconds(120)});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  auto j = nlohmann::json::parse(r.out);
  auto ids = j["generations"][0]["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids, want[0].ids);
  EXPECT_NE(want[0].ids, base[0].ids);
  auto r2 = run_subprocess({test::t2_binary(), "generate", dir, "--prompt-ids", "3", "--peft", out + "/nope"},
                           SubprocessOptions{Seconds(120)});
  EXPECT_EQ(r2.exit_code, 2) << r2.err;
  std::filesystem::remove_all(out);
}

TEST(PeftFileRefuses, ForeignOrMalformedAdapters) {
  const std::string dir = test::make_fixture("peft-file-llama", kArgs);
  auto m = Model::load(dir, {});
  auto a = trained(*m, PeftMethod::lora);
  const std::string out = test::make_temp_dir("t2-peft-refuse");
  write_peft(out, a);
  auto cfg = nlohmann::json::parse(read_file(out + "/adapter_config.json"));
  auto with = [&](const std::string& key, const nlohmann::json& v) {
    auto c = cfg;
    c[key] = v;
    write_file_atomic(out + "/adapter_config.json", c.dump());
  };
  with("peft_type", "PREFIX_TUNING");
  EXPECT_THROW(read_peft(out), FormatError);
  with("fan_in_fan_out", true);
  EXPECT_THROW(read_peft(out), FormatError);
  with("r", 8);  // factors are rank 4
  EXPECT_THROW(read_peft(out), FormatError);
  with("rank_pattern", nlohmann::json({{"q_proj", 8}}));
  EXPECT_THROW(read_peft(out), FormatError);
  with("use_dora", true);  // no magnitude vectors in the file
  EXPECT_THROW(read_peft(out), FormatError);
  with("r", 4);
  EXPECT_NO_THROW(read_peft(out));
  // a module whose shapes disagree with the model is refused at attach time, naming it
  auto wrong = a;
  auto& f = wrong.lora.begin()->second;
  f.A = torch::zeros({4, f.A.size(1) + 1});
  EXPECT_THROW(peft_attach(*m, wrong, false), Error);
  // a config that matches no layer
  PeftConfig c;
  c.target_modules = {"nonexistent_proj"};
  EXPECT_THROW(peft_init(*m, c, 1), UsageError);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace t2
