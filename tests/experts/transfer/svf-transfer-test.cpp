// Cross-model transfer of SVF experts: ordered keeps z, shuffled permutes each matrix's z (a real
// permutation, reproducible per seed, different across seeds); transfer needs transfer_from naming
// the source model, is recorded, and is refused with a message naming the matrix when shapes differ.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "experts/svf-transfer.h"

namespace t2 {
namespace {

Expert llama_expert() {
  Expert e;
  e.layout.names = {"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"};
  e.layout.sizes = {16, 16, 8};
  e.z = z_init(e.layout, 5, 0.1, 0.5);
  e.base_model = "llama-a";
  e.base_model_hash = "hash-a";
  e.task = "gsm8k";
  e.config = "method: svf";
  return e;
}

TEST(SvfTransfer, OrderedKeepsZShuffledPermutesEachMatrixReproducibly) {
  auto e = llama_expert();
  TransferSpec spec{"llama-a", SigmaOrder::ordered, 1};
  auto ord = expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", spec);
  EXPECT_EQ(ord.z, e.z);
  EXPECT_EQ(ord.base_model, "mistral-b");
  EXPECT_EQ(ord.base_model_hash, "hash-b");
  EXPECT_EQ(ord.method, "reinforce+transfer");
  EXPECT_NE(ord.config.find("transfer_from: llama-a"), std::string::npos) << ord.config;
  EXPECT_NE(ord.config.find("sigma_order: ordered"), std::string::npos);
  EXPECT_NO_THROW(expert_check_compatible(ord, "a.h5", e.layout, "hash-b"));

  spec.order = SigmaOrder::shuffled;
  auto s1 = expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", spec);
  auto s1b = expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", spec);
  spec.seed = 2;
  auto s2 = expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", spec);
  EXPECT_EQ(s1.z, s1b.z);  // reproducible
  EXPECT_NE(s1.z, s2.z);   // the seed matters
  EXPECT_NE(s1.z, ord.z);  // shuffled differs from ordered
  EXPECT_NE(s1.config.find("sigma_order: shuffled"), std::string::npos);
  for (size_t i = 0; i < e.layout.names.size(); ++i) {  // each matrix's values permuted among themselves
    auto b = e.z.begin() + e.layout.offset(i), bs = s1.z.begin() + e.layout.offset(i);
    std::vector<float> a(b, b + e.layout.sizes[i]), c(bs, bs + e.layout.sizes[i]);
    EXPECT_NE(a, c) << e.layout.names[i];
    std::sort(a.begin(), a.end());
    std::sort(c.begin(), c.end());
    EXPECT_EQ(a, c) << e.layout.names[i];
  }
}

TEST(SvfTransfer, RefusedUnlessAskedForOrWhenShapesDiffer) {
  auto e = llama_expert();
  try {
    expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", TransferSpec{"", SigmaOrder::ordered, 0});
    FAIL();
  } catch (const UsageError& x) {
    EXPECT_NE(std::string(x.what()).find("transfer_from"), std::string::npos) << x.what();
  }
  EXPECT_THROW(expert_transfer(e, "a.h5", e.layout, "hash-b", "mistral-b", TransferSpec{"other", SigmaOrder::ordered, 0}),
               UsageError);
  EXPECT_NO_THROW(expert_transfer(e, "a.h5", e.layout, "hash-b", "m", TransferSpec{"hash-a", SigmaOrder::ordered, 0}));
  auto other = e.layout;
  other.sizes[2] = 12;
  try {
    expert_transfer(e, "a.h5", other, "hash-b", "mistral-b", TransferSpec{"llama-a", SigmaOrder::ordered, 0});
    FAIL();
  } catch (const UsageError& x) {
    EXPECT_NE(std::string(x.what()).find("model.layers.0.mlp.down_proj has rank 8 on the source and 12"),
              std::string::npos)
        << x.what();
  }
  other = e.layout;
  other.names.pop_back();
  other.sizes.pop_back();
  EXPECT_THROW(expert_transfer(e, "a.h5", other, "hash-b", "mistral-b", TransferSpec{"llama-a", SigmaOrder::ordered, 0}),
               UsageError);
  EXPECT_THROW(parse_sigma_order("sorted"), UsageError);
}

}  // namespace
}  // namespace t2
