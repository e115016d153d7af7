// SVF expert files (HDF5 through results/hdf5-file.h): z per adapted matrix with the matrix names,
// the base model's hash, the task, the resolved config, the training curve and the best validation
// score. Loading checks compatibility with the base model (same matrices, same ranks, same hash).
//
// Layout (readable with h5py / h5dump):
//   /                      attrs format="t2-expert", version=1, base_model, base_model_hash, task,
//                          method, config (the resolved YAML/JSON text), best_validation, best_step
//   /matrices/names        strings, model order;   /matrices/sizes  int64
//   /z/<matrix name>       float32 [rank]
//   /curve/<field>         float64 [steps] for step, reward_mean, reward_std, loss, kl, grad_norm, lr,
//                          validation (NaN where not validated)
// Torch-free (public).
#pragma once

#include <string>
#include <vector>

#include "experts/reinforce.h"
#include "experts/z-layout.h"

namespace t2 {

struct Expert {
  ZLayout layout;
  std::vector<float> z;                // flat over layout
  std::string base_model;              // a name for people ("Llama-3-8B-Instruct", a folder)
  std::string base_model_hash;         // decomposition source hash (svd-file.h)
  std::string task;
  std::string method = "reinforce";    // reinforce | cem-mixture | ...
  std::string config;                  // the resolved configuration text
  std::vector<TrainingPoint> curve;
  double best_validation = 0;
  int64_t best_step = -1;
};

// Writes atomically (temp file + rename).
void expert_write(const std::string& path, const Expert& e);
// FormatError naming the file and the object when it is not a t2 expert file or is inconsistent.
Expert expert_read(const std::string& path);
// UsageError naming the file and the first mismatch (matrix set, a rank, the base model hash).
void expert_check_compatible(const Expert& e, const std::string& path, const ZLayout& model_layout,
                             const std::string& model_hash);

// Human-readable summaries for `t2 experts`.
std::string expert_summary_line(const std::string& path, const Expert& e);     // list
std::string expert_show(const std::string& path, const Expert& e);             // show
std::string expert_diff(const std::string& a_path, const Expert& a, const std::string& b_path, const Expert& b);

}  // namespace t2
