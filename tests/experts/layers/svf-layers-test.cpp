// SVF on a subset of layers (the paper's 70B used half of them): decompose_model with `layers`
// factors only those layers' matrices (a different source hash), the policy adapts only them and
// trains on them, the other layers stay bit-identical to the base model; unknown layers are refused.
#include <gtest/gtest.h>

#include "core/error.h"
#include "experts/decompose.h"
#include "experts/svf-next-token.h"
#include "experts/transformer-policy.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

TEST(SvfLayers, DecomposeTrainAndAdaptOnlyTheChosenLayers) {
  auto dir = test::make_fixture("svf-layers", {"--family", "llama", "--seed", "61", "--layers", "3", "--heads", "4",
                                               "--kv-heads", "2", "--vocab", "64"});
  DecomposeOptions all, sub;
  all.out_dir = dir + "/svd-all";
  sub.out_dir = dir + "/svd-odd";
  sub.layers = {1};
  auto ra = decompose_model(dir, all);
  auto rs = decompose_model(dir, sub);
  EXPECT_NE(ra.source_hash, rs.source_hash);
  auto m = Model::load(dir, {});
  TransformerPolicy pol(*m, dir + "/svd-odd");
  const auto l = pol.layout();
  ASSERT_EQ(l.names.size(), 3u);
  for (const auto& n : l.names) EXPECT_EQ(n.rfind("model.layers.1.mlp.", 0), 0u) << n;
  // training signal reaches the chosen layer's z only (there is no other z)
  std::vector<TokenSeq> p = {{1, 2, 3, 4}}, s = {{5, 6, 7}};
  auto z = z_init(l, 1, 0.1, 0.3);
  auto g = svf_next_token_gradient(pol, z, p, s, 3);
  double norm = 0;
  for (float x : g.grad) norm += static_cast<double>(x) * x;
  EXPECT_GT(norm, 0);
  // adapting changes only layer 1's matrices: the dense weights of layers 0 and 2 are never touched
  auto w0 = m->weight("model.layers.0.mlp.up_proj").clone();
  pol.adapt_expert(z);
  EXPECT_TRUE(torch::equal(m->weight("model.layers.0.mlp.up_proj"), w0));
  // an unknown layer is refused, naming it
  DecomposeOptions bad;
  bad.out_dir = dir + "/svd-bad";
  bad.layers = {7};
  try {
    decompose_model(dir, bad);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no decoder layer 7"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace t2
