// "[4, 16]": tensor shapes in check messages (fmt cannot format c10::IntArrayRef). INTERNAL (torch).
#pragma once

#include <torch/torch.h>

#include <string>

namespace t2 {
inline std::string shape_of(const torch::Tensor& t) { return t.defined() ? c10::str(t.sizes()) : "undefined"; }
}  // namespace t2
