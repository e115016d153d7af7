// WorldLayout::from_mpi under mpirun -np 3 (one host): node 0 of 1, local rank = world rank.
#include <gtest/gtest.h>

#include "cluster/mpi-runtime.h"
#include "cluster/world-layout.h"

TEST(WorldLayoutMpi, FromMpiMatchesTheWorld) {
  auto w = t2::WorldLayout::from_mpi(1);
  EXPECT_EQ(w.world_size(), t2::mpi_world_size());
  EXPECT_EQ(w.world_rank(), t2::mpi_world_rank());
  EXPECT_EQ(w.source(), "mpi");
  EXPECT_EQ(w.num_nodes(), 1);
  EXPECT_EQ(w.node_id(), 0);
  EXPECT_EQ(w.local_rank(), w.world_rank());
  EXPECT_EQ(w.num_groups(), w.world_size() == 1 ? 1 : w.world_size() - 1);
}

TEST(WorldLayoutMpi, DetectUnderMpirunUsesMpi) {
  // mpirun sets OMPI_COMM_WORLD_SIZE even for -np 1
  auto w = t2::WorldLayout::detect(1);
  EXPECT_EQ(w.source(), "mpi");
  EXPECT_EQ(w.world_size(), t2::mpi_world_size());
}

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
