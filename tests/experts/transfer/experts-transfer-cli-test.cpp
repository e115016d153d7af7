// `t2 experts transfer`: an expert trained on model A applied to model B (same shapes, other weights):
// ordered keeps z, shuffled permutes it reproducibly, the result passes B's compatibility check and
// records the transfer; a model with other shapes and a missing --transfer-from are refused (exit 2).
#include <gtest/gtest.h>

#include "experts/decompose.h"
#include "experts/expert-file.h"
#include "experts/svd-layout.h"
#include "tests/workers/runtime/runtime-fixtures.h"

namespace t2 {
namespace {

std::string model(const std::string& tag, const std::string& seed, const std::string& inter) {
  auto dir = test::make_fixture(tag, {"--family", "llama", "--seed", seed, "--heads", "4", "--kv-heads", "2",
                                      "--intermediate", inter});
  decompose_model(dir, DecomposeOptions{});
  return dir;
}

SubprocessResult t2_run(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {test::t2_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_subprocess(argv, SubprocessOptions{Seconds(120)});
}

TEST(ExpertsTransferCli, OrderedShuffledReproducibleAndRefusals) {
  auto a = model("xfer-a", "71", "96"), b = model("xfer-b", "72", "96"), c = model("xfer-c", "73", "48");
  auto la = read_svd_layout(a + "/t2-svd", 1), lb = read_svd_layout(b + "/t2-svd", 1);
  ASSERT_NE(la.source_hash, lb.source_hash);
  Expert e;
  e.layout = la.layout;
  e.z = z_init(la.layout, 9, 0.1, 0.5);
  e.base_model = "model-a";
  e.base_model_hash = la.source_hash;
  e.task = "gsm8k";
  const std::string tmp = test::make_temp_dir("t2-xfer");
  expert_write(tmp + "/a.h5", e);
  auto run = [&](const std::string& order, const std::string& seed, const std::string& out, const std::string& to) {
    return t2_run({"experts", "transfer", tmp + "/a.h5", "--to", to, "--transfer-from", "model-a", "--sigma-order",
                   order, "--seed", seed, "--out", tmp + "/" + out});
  };
  ASSERT_TRUE(run("ordered", "0", "ord.h5", b).ok());
  ASSERT_TRUE(run("shuffled", "3", "s3.h5", b).ok());
  ASSERT_TRUE(run("shuffled", "3", "s3b.h5", b).ok());
  ASSERT_TRUE(run("shuffled", "4", "s4.h5", b).ok());
  auto ord = expert_read(tmp + "/ord.h5"), s3 = expert_read(tmp + "/s3.h5"), s3b = expert_read(tmp + "/s3b.h5"),
       s4 = expert_read(tmp + "/s4.h5");
  EXPECT_EQ(ord.z, e.z);
  EXPECT_NE(s3.z, ord.z);
  EXPECT_EQ(s3.z, s3b.z);
  EXPECT_NE(s3.z, s4.z);
  EXPECT_NO_THROW(expert_check_compatible(s3, tmp + "/s3.h5", lb.layout, lb.source_hash));
  EXPECT_THROW(expert_check_compatible(e, tmp + "/a.h5", lb.layout, lb.source_hash), Error);  // no transfer: refused
  EXPECT_NE(s3.config.find("sigma_order: shuffled"), std::string::npos) << s3.config;
  EXPECT_NE(s3.config.find("transfer_seed: 3"), std::string::npos) << s3.config;
  auto bad = run("ordered", "0", "bad.h5", c);  // intermediate 48 < hidden 64: MLP ranks 48, not 64
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("rank"), std::string::npos) << bad.err;
  auto no_from = t2_run({"experts", "transfer", tmp + "/a.h5", "--to", b, "--out", tmp + "/x.h5"});
  EXPECT_EQ(no_from.exit_code, 2) << no_from.err;
  auto wrong_from = t2_run({"experts", "transfer", tmp + "/a.h5", "--to", b, "--transfer-from", "model-z", "--out",
                            tmp + "/x.h5"});
  EXPECT_EQ(wrong_from.exit_code, 2) << wrong_from.err;
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace t2
