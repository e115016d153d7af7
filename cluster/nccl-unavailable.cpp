// make_nccl_communicator when t2 is built without NCCL: the rest of the code stays free of #if.
#ifndef T2_WITH_NCCL
#include "cluster/communicator-nccl.h"
#include "core/check.h"

namespace t2 {

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, int device, const NcclCommunicatorOptions&) {
  T2_FAIL_AS(NotAvailable, "the nccl communicator (CUDA device {}) is not available: this t2 was built without "
             "NCCL (configure with nccl.h and libnccl under /usr/local/cuda or NCCL_ROOT)", device);
}

}  // namespace t2
#endif
