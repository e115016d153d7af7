// A set of decoder layers as a campaign writes it (the paper's 70B trains SVF on half of them):
//   "all"             every layer
//   "0-39"            a range, both ends included
//   "0,2,4-7"         a comma list of layers and ranges
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

// Sorted, unique layers; empty for "all". UsageError naming the text when it does not parse.
std::vector<int64_t> parse_layer_list(const std::string& spec);
// The canonical text of a parsed list ("all" for empty; ranges collapsed: "0-3,8").
std::string layer_list_text(const std::vector<int64_t>& layers);

}  // namespace t2
