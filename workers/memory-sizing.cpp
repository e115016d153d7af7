#include "workers/memory-sizing.h"

#include <torch/torch.h>

namespace t2 {

bool fused_attention_built() {
#if TORCH_VERSION_MAJOR >= 2
  return true;  // workers/model.cpp: Model::attention takes scaled_dot_product_attention
#else
  return false;
#endif
}

}  // namespace t2
