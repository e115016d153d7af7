// The MPI backend under mpirun (NP 2 and NP 4): the shared contract on the world, on split groups,
// on rank-list groups and with chunked messages, plus deadlines when a rank never joins.
#include <gtest/gtest.h>

#include <thread>

#include "cluster/communicator-mpi.h"
#include "cluster/communicator-nccl.h"
#include "cluster/mpi-runtime.h"
#include "tests/cluster/communicator/communicator-expectations.h"
#include "tests/support/test-support.h"

namespace {

using t2::Seconds;

double seconds_since(t2::Clock::time_point t0) {
  return std::chrono::duration_cast<Seconds>(t2::Clock::now() - t0).count();
}

TEST(CommunicatorMpi, WorldMeetsTheContract) {
  auto c = t2::make_mpi_communicator();
  EXPECT_EQ(c->size(), t2::mpi_world_size());
  EXPECT_EQ(c->rank(), t2::mpi_world_rank());
  EXPECT_EQ(c->backend(), "mpi");
  t2::test::expect_contract(*c, t2::test::host_place());
}

TEST(CommunicatorMpi, ChunkedMessagesMeetTheContract) {
  t2::MpiCommunicatorOptions o;
  o.name = "chunked";
  o.max_chunk_elements = 100;  // 1023-element buffers go as 11 chunks
  auto c = t2::make_mpi_communicator(o);
  t2::test::expect_contract(*c, t2::test::host_place());
}

TEST(CommunicatorMpi, SplitGroupsMeetTheContract) {
  const int me = t2::mpi_world_rank();
  t2::MpiCommunicatorOptions o;
  o.name = "parity";
  // color by parity, key reversed: rank order inside a group follows the key
  auto c = t2::make_mpi_communicator_split(MPI_COMM_WORLD, me % 2, -me, o);
  ASSERT_TRUE(c);
  const int n = t2::mpi_world_size();
  const int members = (n + 1 - me % 2) / 2;
  EXPECT_EQ(c->size(), members);
  EXPECT_EQ(c->rank(), members - 1 - me / 2);
  t2::test::expect_contract(*c, t2::test::host_place());
  // color < 0: no group
  auto none = t2::make_mpi_communicator_split(MPI_COMM_WORLD, me == 0 ? -1 : 0, me, o);
  EXPECT_EQ(none == nullptr, me == 0);
}

TEST(CommunicatorMpi, RankListGroupMeetsTheContract) {
  const int me = t2::mpi_world_rank(), n = t2::mpi_world_size();
  const std::vector<int> ranks{n - 1, 0};  // group rank 0 is the last world rank
  if (me != 0 && me != n - 1) return;
  t2::MpiCommunicatorOptions o;
  o.name = "ends";
  auto c = t2::make_mpi_communicator_ranks(MPI_COMM_WORLD, ranks, o);
  EXPECT_EQ(c->size(), 2);
  EXPECT_EQ(c->rank(), me == n - 1 ? 0 : 1);
  t2::test::expect_contract(*c, t2::test::host_place());
}

TEST(CommunicatorMpi, RejectsBadBuffersAndPeers) {
  auto c = t2::make_mpi_communicator();
  float x[4] = {};
  EXPECT_THROW(c->all_reduce({x, 4, t2::DType::f32, 0}, t2::ReduceOp::sum), t2::Error);  // device buffer
  EXPECT_THROW(c->send({x, 4, t2::DType::f32, -1}, c->size(), 1), t2::Error);            // no such peer
  EXPECT_THROW(c->recv({x, 4, t2::DType::f32, -1}, 0, -3), t2::Error);                    // bad tag
  EXPECT_THROW(c->all_gather({x, 2, t2::DType::f32, -1}, {x, 3, t2::DType::f32, -1}), t2::Error);
}

TEST(CommunicatorMpi, CollectiveTimesOutWhenARankNeverJoins) {
  const int me = t2::mpi_world_rank(), n = t2::mpi_world_size();
  t2::MpiCommunicatorOptions o;
  o.name = "late";
  auto c = t2::make_mpi_communicator(o);
  static std::vector<float> buf(1000, 1.0f);  // outlives the abandoned operation
  const Seconds deadline(0.5);
  if (me != n - 1) {
    const auto t0 = t2::Clock::now();
    try {
      c->all_reduce({buf.data(), buf.size(), t2::DType::f32, -1}, t2::ReduceOp::sum, {deadline});
      ADD_FAILURE() << "all_reduce returned although rank " << n - 1 << " never joined";
    } catch (const t2::TimeoutError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("all_reduce"), std::string::npos) << m;
      EXPECT_NE(m.find("rank " + std::to_string(me)), std::string::npos) << m;
      EXPECT_NE(m.find("'late'"), std::string::npos) << m;
    }
    const double took = seconds_since(t0);
    EXPECT_GE(took, 0.5);
    EXPECT_LT(took, 60.0) << "the deadline did not end the wait";  // without it: forever
    // broken from now on
    EXPECT_THROW(c->barrier({Seconds(1)}), t2::Error);
  }
  // The late rank joins after everyone timed out, so the abandoned operation completes and the
  // communicator can be freed; the world barrier drives the other ranks' MPI progress meanwhile.
  // Creating `world` is collective over every rank, so the late rank passes it only once every
  // other rank has timed out: an ordering by event, not by a sleep.
  auto world = t2::make_mpi_communicator();
  if (me == n - 1) {
    c->all_reduce({buf.data(), buf.size(), t2::DType::f32, -1}, t2::ReduceOp::sum, {Seconds(30)});
  }
  world->barrier({Seconds(30)});
}

TEST(CommunicatorMpi, RecvTimesOutNamingThePeerAndStaysUsable) {
  const int me = t2::mpi_world_rank(), n = t2::mpi_world_size();
  auto c = t2::make_mpi_communicator();
  if (me == 0) {
    float x[8];
    const auto t0 = t2::Clock::now();
    try {
      c->recv({x, 8, t2::DType::f32, -1}, n - 1, 99, {Seconds(0.3)});
      ADD_FAILURE() << "recv returned although nothing was sent";
    } catch (const t2::TimeoutError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("peer rank " + std::to_string(n - 1)), std::string::npos) << m;
      EXPECT_NE(m.find("recv"), std::string::npos) << m;
    }
    EXPECT_LT(seconds_since(t0), 60.0) << "the deadline did not end the wait";  // without it: forever
  }
  c->barrier({Seconds(30)});  // still usable after a cancelled recv
}

// The campaign's timeouts.collective: calls that leave CollectiveOptions at its default take the
// communicator's default_timeout (0.3 s here, where the built-in default is 300 s).
TEST(CommunicatorMpi, DefaultDeadlineComesFromTheOptions) {
  const int me = t2::mpi_world_rank(), n = t2::mpi_world_size();
  t2::MpiCommunicatorOptions o;
  o.default_timeout = Seconds(0.3);
  auto c = t2::make_mpi_communicator(o);
  if (me == 0) {
    float x[8];
    try {
      c->recv({x, 8, t2::DType::f32, -1}, n - 1, 98);  // default options
      ADD_FAILURE() << "recv returned although nothing was sent";
    } catch (const t2::TimeoutError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("deadline of 0.3 s"), std::string::npos) << m;
    }
  }
  c->barrier({Seconds(30)});
}

TEST(CommunicatorMpi, GroupCreationTimesOutWhenAMemberIsMissing) {
  const int me = t2::mpi_world_rank(), n = t2::mpi_world_size();
  t2::MpiCommunicatorOptions o;
  o.name = "missing";
  o.setup_timeout = Seconds(0.3);
  if (me == 0) {
    EXPECT_THROW(t2::make_mpi_communicator_ranks(MPI_COMM_WORLD, {0, n - 1}, o), t2::TimeoutError);
  }
  auto world = t2::make_mpi_communicator();
  world->barrier({Seconds(30)});
}

// No GTEST_SKIP in this binary: one skipped case would mark the whole mpirun test as skipped.
TEST(CommunicatorNccl, FactoryFailsCleanlyWithoutNcclOrGpu) {
  auto c = t2::make_mpi_communicator();
#ifdef T2_WITH_NCCL
  EXPECT_TRUE(t2::nccl_available());
  if (t2::test::have_gpu()) return;  // the gpu test covers it; two ranks must not share device 0 here
  EXPECT_THROW(t2::make_nccl_communicator(*c, 0), t2::Error);  // no CUDA device: an error, not a crash
#else
  EXPECT_FALSE(t2::nccl_available());
  EXPECT_THROW(t2::make_nccl_communicator(*c, 0), t2::NotAvailable);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  // every rank's verdict counts: mpirun fails when any rank returns non-zero
  return rc;
}
