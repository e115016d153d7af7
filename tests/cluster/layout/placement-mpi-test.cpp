// The T2_TEST_HOSTS seam under a real mpirun -np 5: the world plays two nodes, a (ranks 0-1) and
// b (ranks 2-4). With tp 2 the groups stay inside a node: rank 1 (alone on a with the coordinator)
// is idle, {2,3} work on b and rank 4 is idle. Without the seam every rank is on one host.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cluster/communicator-mpi.h"
#include "cluster/mpi-runtime.h"
#include "cluster/world-layout.h"
#include "core/error.h"

TEST(PlacementMpi, TestHostsDescribeTwoNodes) {
  ASSERT_EQ(t2::mpi_world_size(), 5);
  setenv("T2_TEST_HOSTS", "a*2,b*3", 1);
  auto w = t2::WorldLayout::from_mpi(2);
  unsetenv("T2_TEST_HOSTS");
  EXPECT_EQ(w.num_nodes(), 2);
  EXPECT_EQ(w.num_groups(), 1);
  EXPECT_EQ(w.group_ranks(0), (std::vector<int>{2, 3}));
  EXPECT_EQ(w.idle_ranks(), (std::vector<int>{1, 4}));
  const int me = w.world_rank();
  EXPECT_EQ(w.node_id(), me < 2 ? 0 : 1);
  EXPECT_EQ(w.local_rank(), me < 2 ? me : me - 2);
  EXPECT_EQ(w.device(), "cpu");
  EXPECT_EQ(w.placement().ranks[3].host, "b");

  // host_local_rank over the same seam
  auto comm = t2::make_mpi_communicator(t2::MpiCommunicatorOptions{"local"});
  setenv("T2_TEST_HOSTS", "a*2,b*3", 1);
  EXPECT_EQ(t2::host_local_rank(*comm), me < 2 ? me : me - 2);
  unsetenv("T2_TEST_HOSTS");
  EXPECT_EQ(t2::host_local_rank(*comm), me);
}

// A mixed campaign's world (models at tp 2 and tp 1) over the seam: a = ranks 0-2, b = ranks 3-4.
// Node a holds the coordinator and the TP-2 group {1,2}; node b two TP-1 groups. Every rank computes
// the same placement and knows its own group's degree.
TEST(PlacementMpi, MixedDegreesOverTheSeam) {
  setenv("T2_TEST_HOSTS", "a*3,b*2", 1);
  auto w = t2::WorldLayout::from_mpi(std::vector<int>{1, 2});
  unsetenv("T2_TEST_HOSTS");
  ASSERT_EQ(w.num_groups(), 3);
  EXPECT_EQ(w.group_ranks(0), (std::vector<int>{1, 2}));
  EXPECT_EQ(w.group_ranks(1), (std::vector<int>{3}));
  EXPECT_EQ(w.group_ranks(2), (std::vector<int>{4}));
  EXPECT_EQ(w.group_tp(0), 2);
  EXPECT_EQ(w.group_tp(1), 1);
  EXPECT_EQ(w.tps(), (std::vector<int>{2, 1}));
  EXPECT_TRUE(w.idle_ranks().empty());
  const int me = w.world_rank();
  EXPECT_EQ(w.tp(), me == 1 || me == 2 ? 2 : me == 0 ? 2 : 1);
  EXPECT_EQ(w.is_coordinator(), me == 0);
  EXPECT_FALSE(w.coordinator_works());
  EXPECT_EQ(w.node_id(), me < 3 ? 0 : 1);
  // the group communicator the campaign runner splits by group has each group's degree
  auto group = t2::make_mpi_communicator_split(MPI_COMM_WORLD, w.group_of(), w.tp_rank(), {});
  if (w.is_worker()) {
    ASSERT_TRUE(group);
    EXPECT_EQ(group->size(), w.tp());
    EXPECT_EQ(group->rank(), w.tp_rank());
  }
}

TEST(PlacementMpi, OneHostWithoutTheSeam) {
  auto w = t2::WorldLayout::from_mpi(2);
  EXPECT_EQ(w.num_nodes(), 1);
  EXPECT_EQ(w.group_ranks(0), (std::vector<int>{1, 2}));
  EXPECT_EQ(w.group_ranks(1), (std::vector<int>{3, 4}));
  t2::WorldLayout::Request req;
  req.device = "cuda";
  // asking for CUDA in a CPU-only world fails alike on every rank (no one is left waiting)
  EXPECT_THROW(t2::WorldLayout::from_mpi(2, req), t2::UsageError);
}

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
