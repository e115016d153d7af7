#include "workers/device-info.h"

#include <torch/torch.h>

#include "core/check.h"

namespace t2 {

DeviceInfo device_info() {
  DeviceInfo d;
#ifdef T2_WITH_CUDA
  d.cuda_built = true;
  d.cuda_devices = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
#endif
  return d;
}

std::string resolve_device(const std::string& requested, int local_index) {
  const DeviceInfo d = device_info();
  if (requested == "cpu") return "cpu";
  if (requested == "auto") {
    if (!d.cuda_built || d.cuda_devices == 0) return "cpu";
    return "cuda:" + std::to_string(d.cuda_devices == 1 ? 0 : local_index % d.cuda_devices);
  }
  T2_CHECK_AS(UsageError, requested == "cuda" || requested.rfind("cuda:", 0) == 0,
              "device '{}' is not supported; expected auto, cpu, cuda or cuda:N", requested);
  T2_CHECK_AS(UsageError, d.cuda_built,
              "device {} was asked for, but this t2 was built against a LibTorch without CUDA; use --device cpu "
              "(or auto), or build t2 for GPUs with scripts/gpu-build",
              requested);
  T2_CHECK_AS(UsageError, d.cuda_devices > 0, "device {} was asked for, but no GPU is visible to this process",
              requested);
  if (requested != "cuda") return requested;
  T2_CHECK_AS(UsageError, d.cuda_devices == 1 || local_index < d.cuda_devices,
              "local rank {} has no GPU of its own: {} visible", local_index, d.cuda_devices);
  return "cuda:" + std::to_string(d.cuda_devices == 1 ? 0 : local_index);
}

}  // namespace t2
