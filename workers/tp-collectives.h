// Tensor-parallel collectives on torch tensors, differentiable in Megatron's conjugate pairs. The loss
// is computed identically on every rank of the group, so:
//   tp_reduce_from(x)   forward all-reduce (sum),     backward identity   (after row-parallel layers)
//   tp_copy_to(x)       forward identity,             backward all-reduce (before column-parallel layers)
//   tp_gather_from(x)   forward all-gather last dim,  backward own slice  (vocab-parallel logits)
// With a null or size-1 communicator each is the identity. INTERNAL to workers/ and experts/.
#pragma once

#include <torch/torch.h>

#include "cluster/communicator.h"

namespace t2 {

BufferView tp_buffer(const torch::Tensor& contiguous);

torch::Tensor tp_reduce_from(const torch::Tensor& x, Communicator* comm);
torch::Tensor tp_copy_to(const torch::Tensor& x, Communicator* comm);
torch::Tensor tp_gather_from(const torch::Tensor& x, Communicator* comm);

}  // namespace t2
