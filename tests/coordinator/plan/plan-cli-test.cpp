// `t2 plan` on the command line: the 70B campaign at TP 8 on 80 GB fits, an override to TP 2 does not
// (exit 1), the trainers' `layers` size the factors, a model folder without config.json is a usage
// error naming the key (exit 2).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/test-support.h"

namespace t2 {
namespace {

struct CampaignDir {
  std::string dir = test::make_temp_dir("plan-cli");
  CampaignDir() {
    std::system(("mkdir -p " + dir + "/llama3-70b").c_str());
    std::ofstream(dir + "/llama3-70b/config.json") << R"({"architectures": ["LlamaForCausalLM"],
      "model_type": "llama", "hidden_act": "silu", "hidden_size": 8192, "intermediate_size": 28672,
      "num_attention_heads": 64, "num_hidden_layers": 80, "num_key_value_heads": 8, "vocab_size": 128256,
      "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "max_position_embeddings": 8192,
      "tie_word_embeddings": false, "bos_token_id": 128000, "eos_token_id": 128009})";
    std::ofstream(dir + "/campaign.yaml") << "name: plan70b\noutput: " << dir << "/run\ndata_dir: " << dir
                                          << "\nmodels:\n  big:\n    path: " << dir
                                          << "/llama3-70b\n    tp: 8\n    gpu_memory_gb: 80\n"
                                             "tasks:\n  gsm8k: {kind: gsm8k}\n"
                                             "experiments:\n  - name: eval\n    kind: evaluate\n"
                                             "    tasks: [gsm8k]\n    methods: [base]\n    batch_size: 32\n";
  }
  ~CampaignDir() { std::system(("rm -rf " + dir).c_str()); }
};

TEST(PlanCli, SeventyBillionAtTp8FitsAndTp2DoesNot) {
  CampaignDir c;
  auto r = test::run_t2({"plan", c.dir + "/campaign.yaml", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& p = j["models"]["big"];
  EXPECT_EQ(p["settings"]["tp"], 8);
  EXPECT_EQ(p["settings"]["eval_batch"], 32);
  EXPECT_EQ(p["z_count"], 1966080);
  EXPECT_TRUE(p["phases"]["evaluate"]["fits"].get<bool>());
  EXPECT_TRUE(p["phases"]["train-svf"]["fits"].get<bool>());

  auto r2 = test::run_t2({"plan", c.dir + "/campaign.yaml", "models.big.tp=2"});
  EXPECT_EQ(r2.exit_code, 1) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("DOES NOT FIT"), std::string::npos) << r2.out;

  auto r3 = test::run_t2({"plan", "--shape", "llama3-70b", "--tp", "8", "--gpu-memory-gb", "80"});
  EXPECT_EQ(r3.exit_code, 0) << r3.out << r3.err;
  EXPECT_NE(r3.out.find("settings that do not fit"), std::string::npos) << r3.out;
  EXPECT_NE(r3.out.find("tp 4"), std::string::npos) << r3.out;
}

// The campaign key `layers` of the SVF trainers sizes the factors: the paper's 70B adapts 40 of its 80
// layers, so it holds half the factors and z of every layer; two experiments' lists count as their union.
TEST(PlanCli, FactorsFollowTheAdaptedLayers) {
  CampaignDir c;
  auto write = [&](const std::string& name, const std::string& layers) {
    std::ofstream(c.dir + "/" + name) << "name: plan70b\noutput: " << c.dir << "/run\ndata_dir: " << c.dir
                                      << "\nmodels:\n  big:\n    path: " << c.dir
                                      << "/llama3-70b\n    tp: 8\n    gpu_memory_gb: 80\n"
                                         "tasks:\n  gsm8k: {kind: gsm8k}\n"
                                         "experiments:\n  - name: train\n    kind: train_expert\n"
                                         "    tasks: [gsm8k]\n    micro_batch: 4\n" << layers;
    return c.dir + "/" + name;
  };
  auto plan = [&](const std::string& file) {
    auto r = test::run_t2({"plan", file, "--json"});
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;  // 1: something does not fit
    return nlohmann::json::parse(r.out)["models"]["big"];
  };
  auto factor_bytes = [](const nlohmann::json& p) {
    for (const auto& i : p["phases"]["evaluate"]["items"])
      if (i["name"].get<std::string>().find("SVF factors") != std::string::npos) return i["bytes"].get<double>();
    return -1.0;
  };
  const auto all = plan(write("all.yaml", ""));
  const auto half = plan(write("half.yaml", "    layers: \"0-39\"\n"));
  const auto two = plan(write("two.yaml", "    layers: \"0-9\"\n  - name: more\n    kind: train_expert\n"
                                          "    tasks: [gsm8k]\n    micro_batch: 4\n    layers: \"5-19\"\n"));
  EXPECT_EQ(all["settings"]["adapted_layers"], 80);
  EXPECT_EQ(half["settings"]["adapted_layers"], 40);
  EXPECT_EQ(two["settings"]["adapted_layers"], 20);  // 0-9 and 5-19
  EXPECT_EQ(all["z_count"], 1966080);
  EXPECT_EQ(half["z_count"], 1966080 / 2);
  EXPECT_EQ(two["z_count"], 1966080 / 4);
  ASSERT_GT(factor_bytes(all), 0);
  EXPECT_DOUBLE_EQ(factor_bytes(half), factor_bytes(all) / 2);
  auto text = test::run_t2({"plan", c.dir + "/half.yaml"});
  EXPECT_NE(text.out.find("modules mlp in 40 of 80 layers"), std::string::npos) << text.out;
}

TEST(PlanCli, MissingConfigIsAUsageErrorNamingTheKey) {
  CampaignDir c;
  auto r = test::run_t2({"plan", c.dir + "/campaign.yaml", "models.big.path=" + c.dir + "/nowhere"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("models.big.path"), std::string::npos) << r.err;
  auto bad = test::run_t2({"plan", "--shape", "llama3-70"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("did you mean 'llama3-70b'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace t2
