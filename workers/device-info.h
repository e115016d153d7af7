// What this process can compute on, for placement (cluster/placement.h) and the CLI: whether this t2
// was built with CUDA (T2_WITH_CUDA: a LibTorch with CUDA) and how many CUDA devices it sees.
// Torch-free header.
#pragma once

#include <string>

namespace t2 {

struct DeviceInfo {
  bool cuda_built = false;  // this t2 has CUDA
  int cuda_devices = 0;     // CUDA devices visible to this process (0 without CUDA)
};

DeviceInfo device_info();

// A rank's device for commands that run on one process or one TP group (t2 generate, logprobs,
// score): `requested` auto | cpu | cuda | cuda:N. auto -> cuda:<local index> when there is a GPU,
// else cpu. UsageError (exit 2) when CUDA is asked for and this t2 or this machine has none.
std::string resolve_device(const std::string& requested, int local_index = 0);

}  // namespace t2
