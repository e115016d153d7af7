// A random Llama-shaped checkpoint (config.json + model.safetensors, float32, untied LM head) for the
// benchmarks that need a real model folder without downloading one. Torch-free header.
//
//   write_random_llama(dir, {.vocab = 512, .hidden = 128, .layers = 2, .heads = 4, .kv_heads = 2,
//                            .intermediate = 344});
//   auto model = Model::load(dir, {});
#pragma once

#include <cstdint>
#include <string>

namespace t2::bench {

struct RandomLlamaShape {
  int64_t vocab = 512;
  int64_t hidden = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t intermediate = 344;
  int64_t max_positions = 512;
};

// Writes the checkpoint into `dir` (created). The weights come from torch::manual_seed(seed): the same
// shape and seed give the same file. Linear weights ~ N(0, 1/fan_in), norms ~ 1 + N(0, 0.01),
// embeddings ~ N(0, 1).
void write_random_llama(const std::string& dir, const RandomLlamaShape& shape, uint64_t seed = 5);

}  // namespace t2::bench
