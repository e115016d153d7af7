#include <gtest/gtest.h>

#include "cluster/communicator.h"
#include "core/error.h"
#include "tests/cluster/communicator/communicator-expectations.h"

TEST(CommunicatorSingle, MeetsTheContract) {
  auto c = t2::make_single_communicator();
  EXPECT_EQ(c->size(), 1);
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->backend(), "single");
  t2::test::expect_contract(*c, t2::test::host_place());
}

TEST(CommunicatorSingle, RejectsBadArguments) {
  auto c = t2::make_single_communicator();
  float x = 1, y[2] = {0, 0};
  EXPECT_THROW(c->broadcast({&x, 1, t2::DType::f32, -1}, 1), t2::Error);
  EXPECT_THROW(c->all_gather({&x, 1, t2::DType::f32, -1}, {y, 2, t2::DType::f32, -1}), t2::Error);
}
