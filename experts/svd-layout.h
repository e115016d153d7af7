// What the coordinator needs to know about a decomposition without loading any factor: the matrices
// (the z layout) and the source hash, read from the attributes and /names of a shard file written by
// decompose_model (experts/decompose.h). Torch-free (public).
#pragma once

#include <string>

#include "experts/z-layout.h"

namespace t2 {

struct SvdLayout {
  ZLayout layout;            // names without ".weight", model order; sizes = rank of each matrix
  std::string source_hash;
  std::string modules;
  std::string file;          // the shard file it was read from
};

// Reads shard 0 of `tp_size` in `svd_dir`. FormatError naming the file when it is not a t2 SVD file;
// UsageError when it does not exist (run the decompose job first).
SvdLayout read_svd_layout(const std::string& svd_dir, int tp_size);

}  // namespace t2
