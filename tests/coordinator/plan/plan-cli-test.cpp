// `t2 plan` on the command line: the 70B campaign at TP 8 on 80 GB fits, an override to TP 2 does not
// (exit 1), a model folder without config.json is a usage error naming the key (exit 2).
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
