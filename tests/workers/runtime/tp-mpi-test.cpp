// Tensor parallelism over the real MPI backend: run as `mpirun -np 2`. Every rank loads its shard
// (TP=2) and the whole model (TP=1); logits, greedy generation, sampling and scores must agree.
#include <gtest/gtest.h>

#include "cluster/communicator-mpi.h"
#include "cluster/mpi-runtime.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

using test::some_ids;

TEST(TensorParallelMpi, TwoRanksEqualOneRank) {
  auto comm = make_mpi_communicator();
  ASSERT_EQ(comm->size(), 2) << "run under mpirun -np 2";
  // every rank writes the same seeded fixture into its own temp folder
  std::string dir = test::make_fixture("tp-mpi", {"--family", "llama3", "--seed", "21", "--heads", "4",
                                                  "--kv-heads", "2", "--shards", "2"});
  auto one = Model::load(dir, {});
  LoadOptions lo;
  lo.tp_comm = comm.get();
  auto two = Model::load(dir, lo);
  EXPECT_EQ(two->linear_info("model.layers.0.mlp.up_proj").out_local * 2, one->config().intermediate_size);

  torch::Tensor ids = torch::tensor(std::vector<int64_t>{5, 9, 1, 77, 3, 12, 40}).unsqueeze(0);
  {
    torch::NoGradGuard ng;
    double diff = (one->forward_logits(ids) - two->forward_logits(ids)).abs().max().item<double>();
    EXPECT_LE(diff, 1e-5);
  }
  std::vector<std::vector<int32_t>> prompts = {some_ids(4, 128, 1), some_ids(13, 128, 2), some_ids(1, 128, 3)};
  GenerateOptions go;
  go.max_new_tokens = 24;
  go.use_config_eos = false;
  auto a = one->generate(prompts, go), b = two->generate(prompts, go);
  go.temperature = 0.8;
  go.top_p = 0.9;
  go.seed = 5;
  auto c = one->generate(prompts, go), d = two->generate(prompts, go);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << "greedy " << i;
    EXPECT_EQ(c[i].ids, d[i].ids) << "sampled " << i;
  }
  std::vector<std::vector<int32_t>> conts;
  for (const auto& g : a) conts.push_back(g.ids);
  auto s1 = one->score(prompts, conts, false), s2 = two->score(prompts, conts, false);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_LE((s1[i] - s2[i]).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace t2

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
