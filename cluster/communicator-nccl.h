// The NCCL backend of Communicator: CUDA buffers on one device per rank, every operation issued on
// the communicator's own CUDA stream and completed by polling cudaStreamQuery and
// ncclCommGetAsyncError until the deadline; on timeout (or an asynchronous NCCL error) the NCCL
// communicator is aborted with ncclCommAbort and the call throws t2::TimeoutError (t2::Error), after
// which the Communicator is unusable. The communicator is created in NCCL's non-blocking mode, so
// its creation has a deadline too.
//
// The ncclUniqueId is made by rank 0 of `bootstrap` and broadcast over it (usually the MPI group of
// the same ranks); rank r of the NCCL communicator is rank r of `bootstrap`.
//
// NCCL has no message tags: send/recv pairs match in issue order; the tag is only checked to be >= 0.
// Built only when NCCL was found (T2_WITH_NCCL); otherwise make_nccl_communicator throws
// t2::NotAvailable and nccl_available() is false.
#pragma once

#include <memory>

#include "cluster/communicator.h"

namespace t2 {

struct NcclCommunicatorOptions {
  Seconds setup_timeout{300};  // id exchange + ncclCommInitRankConfig
};

bool nccl_available();

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device,
                                                     const NcclCommunicatorOptions& opt = {});

}  // namespace t2
