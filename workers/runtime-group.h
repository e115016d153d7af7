// A Runtime for one command-line process: with tp == 1 the whole model on this process; with tp > 1
// the process is one rank of `mpirun -np tp` and the MPI world is the tensor-parallel group (every
// rank loads only its shard; rank 0 prints). Torch-free, for coordinator/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/communicator.h"
#include "workers/runtime.h"

namespace t2 {

struct RuntimeGroup {
  std::unique_ptr<Communicator> control;  // the MPI group (declared first: destroyed last)
  std::unique_ptr<Communicator> comm;     // NCCL over `control` when the tensors are on CUDA; destroyed after the runtime
  std::unique_ptr<Runtime> runtime;
  bool prints = true;                   // rank 0 of the group
};

// UsageError when tp > 1 and the process was not started by `mpirun -np tp`. `device` is auto | cpu |
// cuda | cuda:N (workers/device-info.h: cuda and auto give each rank of a host its own GPU); with
// tp > 1 on CUDA the tensors travel over NCCL, bootstrapped over the MPI group.
RuntimeGroup load_runtime_group(const std::string& model_dir, const std::string& dtype, const std::string& device,
                                int tp);

// "1,2,3" -> {1, 2, 3}; UsageError naming `what` and the offending item otherwise.
std::vector<int32_t> parse_id_list(const std::string& s, const std::string& what);

}  // namespace t2
