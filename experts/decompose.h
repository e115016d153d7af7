// `t2 decompose`: the SVD factors of a model's adapted matrices, computed once and cached per
// tensor-parallel shard in HDF5 (METHOD.md §3.2, DESIGN "SVF").
//
//   OUT/svd-tp<r>of<n>.h5   attrs format="t2-svd", version, source_hash, modules, tp_rank, tp_size, dtype
//                           /names (strings, model order), /kinds ("column" | "row")
//                           /m/<name>/{U, S, V}  this rank's shard: column-parallel layers keep U's rows
//                           [out/n, k], row-parallel ones V's rows [in/n, k]; S replicated; float32/64
//                           /m/<name> attrs source_hash (of that tensor), rows, cols
//   OUT/parts/<i>.h5        one finished matrix (full factors) while the run is in progress: a killed
//                           run resumes matrix by matrix; removed once the shard files are written.
//
// The source hash covers every adapted tensor's name, dtype, shape and bytes. Existing files with
// the same hash are reused; a file with another hash is an error (never silently reused).
// Torch-free (public); the SVD itself runs in LibTorch inside decompose.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2 {

class Checkpoint;

struct DecomposeOptions {
  // mlp (gate, up, down: the reference) | attn (q, v: the paper's ablation) | attn_qkvo (q, k, v, o) |
  // all (mlp + q, v) | all_qkvo (mlp + q, k, v, o)
  std::string modules = "mlp";
  std::vector<int64_t> layers;    // empty: every layer; else only these decoder layers (the paper's 70B: half)
  int tp = 1;                     // shard files for tensor-parallel degree tp
  std::string out_dir;            // default: MODEL_DIR/t2-svd
  bool fp64 = false;              // SVD in float64 (factors stored as float64)
  int threads = 1;                // matrices decomposed in parallel
  int rank = 0, world = 1;        // this process computes matrices i with i % world == rank
  bool assemble = true;           // false: write only this rank's parts (one rank assembles later; two
                                  // ranks assembling at once would remove parts/ under each other)
};

struct MatrixTiming {
  std::string name;
  int64_t rows = 0, cols = 0;
  double seconds = 0;
  bool reused = false;
};

struct DecomposeReport {
  std::string source_hash;
  std::string out_dir;
  std::vector<std::string> files;   // the shard files (empty until every part exists)
  std::vector<MatrixTiming> matrices;
  bool reused = false;              // all shard files already existed with this hash
};

// The adapted weight names of a checkpoint ("model.layers.3.mlp.gate_proj.weight"), model order.
std::vector<std::string> adapted_weight_names(const Checkpoint& ck, const std::string& modules,
                                              const std::vector<int64_t>& layers = {});
// "column" for q/k/v/gate/up, "row" for o/down.
std::string linear_kind_of(const std::string& weight_name);
// Hash of one tensor (name, dtype, shape, bytes) and of a list of tensors, as 16 hex digits.
std::string tensor_hash(const Checkpoint& ck, const std::string& name);
std::string source_hash(const Checkpoint& ck, const std::vector<std::string>& names);

DecomposeReport decompose_model(const std::string& model_dir, const DecomposeOptions& opt);

// The shard file name for a TP rank.
std::string svd_shard_path(const std::string& out_dir, int tp_rank, int tp_size);

}  // namespace t2
