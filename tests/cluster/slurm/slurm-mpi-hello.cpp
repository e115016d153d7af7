// Test helper run inside Slurm jobs: one all_reduce over the MPI world, then one line per rank
// ("hello rank R of N allreduce sum=N layout: <WorldLayout::detect>") that the tests count.
#include <cstdio>

#include "cluster/communicator-mpi.h"
#include "cluster/mpi-runtime.h"
#include "cluster/world-layout.h"

int main(int argc, char** argv) {
  t2::mpi_init(&argc, &argv);
  auto world = t2::make_mpi_communicator();
  int one = 1;
  world->all_reduce({&one, 1, t2::DType::i32, -1}, t2::ReduceOp::sum, {t2::Seconds(60)});
  const auto layout = t2::WorldLayout::detect(1);
  std::printf("hello rank %d of %d allreduce sum=%d layout: %s\n", world->rank(), world->size(), one,
              layout.describe().c_str());
  std::fflush(stdout);
  return 0;
}
