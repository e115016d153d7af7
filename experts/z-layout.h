// Where each adapted matrix's z lives in the flat vector the coordinator owns: names in model order
// (gate, up, down per layer for `mlp`), one length (the SVD rank) per matrix. Torch-free (public).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

struct ZLayout {
  std::vector<std::string> names;   // HF names without ".weight", e.g. "model.layers.0.mlp.gate_proj"
  std::vector<int64_t> sizes;       // rank of each matrix

  int64_t total() const;
  int64_t offset(size_t i) const;
  // Index of a matrix by name; UsageError listing close names when absent.
  size_t index(const std::string& name) const;
  bool operator==(const ZLayout& o) const { return names == o.names && sizes == o.sizes; }
};

// z₀ = mean + std·N(0,1) per entry (METHOD.md §3.3: 0.1 and 0.01), one stream per matrix derived
// from the campaign seed, so the init does not depend on the order matrices are visited in.
std::vector<float> z_init(const ZLayout& layout, uint64_t seed, double mean = 0.1, double std = 0.01);

// m = sigmoid(z) elementwise (the multipliers of METHOD.md §3.3).
std::vector<float> z_multipliers(const std::vector<float>& z);

}  // namespace t2
