// The model runtime behind a torch-free interface, for the coordinator and the CLI: load a model folder
// (config.json + safetensors), generate from batches of prompt ids, score continuations.
//
//   auto rt = t2::Runtime::load("models/tiny", {});
//   auto gens = rt->generate({{1, 2, 3}, {4, 5}}, opts, detok);
//   auto lps  = rt->logprobs({{1, 2, 3}}, {{7, 8}});
//
// With LoadOptions::tp_comm of size N (under `mpirun -np N`), every rank of the group loads its shard
// and must make the same calls with the same arguments; every rank gets the same results.
// The torch-level API (adapters, autograd scoring) is workers/model.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "workers/generation.h"
#include "workers/model-config.h"

namespace t2 {

class Communicator;
class Model;

struct LoadOptions {
  std::string dtype = "auto";     // "auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16", "float16"
  std::string device = "cpu";     // "cpu", "cuda", "cuda:N"
  Communicator* tp_comm = nullptr;  // tensor-parallel group; nullptr = one rank, whole model
};

class Runtime {
 public:
  static std::unique_ptr<Runtime> load(const std::string& model_dir, const LoadOptions& opt = {});
  ~Runtime();

  const ModelConfig& config() const;
  std::vector<Generation> generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opt,
                                   const Detokenizer& detok = nullptr);
  // Per-token log-probs of continuations[b] after prompts[b], batched.
  std::vector<std::vector<float>> logprobs(const std::vector<std::vector<int32_t>>& prompts,
                                           const std::vector<std::vector<int32_t>>& continuations);
  Model& model();  // the torch-level model (workers/model.h), for workers/ and experts/

 private:
  explicit Runtime(std::unique_ptr<Model> m);
  std::unique_ptr<Model> model_;
};

}  // namespace t2
