// NCCL backend on a GPU machine: world size 1 over the MPI bootstrap (mpirun is not needed for one
// rank: MPI initialises as a singleton). Skipped without a GPU.
#include <gtest/gtest.h>

#include "cluster/communicator-mpi.h"
#include "cluster/communicator-nccl.h"
#include "cluster/mpi-runtime.h"
#include "tests/cluster/communicator/communicator-expectations.h"
#include "tests/support/test-support.h"

#ifdef T2_WITH_NCCL
#include <cuda_runtime.h>
#endif

namespace {

#ifdef T2_WITH_NCCL
t2::test::BufferPlace cuda_place(int device) {
  t2::test::BufferPlace p;
  p.alloc = [device](size_t count, t2::DType t) {
    void* d = nullptr;
    cudaSetDevice(device);
    if (count) {
      EXPECT_EQ(cudaMalloc(&d, count * t2::dtype_size(t)), cudaSuccess);
    }
    return t2::BufferView{d, count, t, device};
  };
  p.upload = [](t2::BufferView dst, const std::vector<char>& host) {
    if (!host.empty()) {
      EXPECT_EQ(cudaMemcpy(dst.data, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
    }
  };
  p.download = [](t2::BufferView src) {
    std::vector<char> h(src.bytes());
    if (!h.empty()) {
      EXPECT_EQ(cudaMemcpy(h.data(), src.data, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return h;
  };
  p.release = [](t2::BufferView b) { if (b.data) cudaFree(b.data); };
  return p;
}
#endif

TEST(CommunicatorNccl, WorldOfOneMeetsTheContract) {
  T2_REQUIRE_GPU();
#ifdef T2_WITH_NCCL
  t2::mpi_init();
  auto boot = t2::make_mpi_communicator();
  ASSERT_EQ(boot->size(), 1) << "run this test as a single process";
  auto c = t2::make_nccl_communicator(*boot, 0);
  EXPECT_EQ(c->backend(), "nccl");
  t2::test::expect_contract(*c, cuda_place(0));
#else
  GTEST_SKIP() << "built without NCCL";
#endif
}

}  // namespace
