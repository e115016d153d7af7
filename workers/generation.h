// Options and results of batched generation. Torch-free: used by workers/runtime.h (public) and by
// workers/model.h (internal).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace t2 {

struct GenerateOptions {
  int max_new_tokens = 256;
  // 0: greedy (argmax). > 0: sample from softmax(logits / temperature), restricted to the smallest
  // set of tokens whose probability reaches top_p (nucleus).
  double temperature = 0.0;
  double top_p = 1.0;
  // Sequence b of the batch samples from its own stream seeded by (seed, b): the same seed and prompt
  // give the same text whatever else is in the batch.
  uint64_t seed = 0;
  // A sequence stops after producing one of these ids (the id is kept in `ids`, left out of `text`).
  // When `use_config_eos` is set, the config's eos_token_id(s) are added.
  std::vector<int32_t> eos_ids;
  bool use_config_eos = true;
  // A sequence stops once its decoded text contains one of these; `text` is cut before it. Needs a
  // detokenizer.
  std::vector<std::string> stop_strings;
};

struct Generation {
  std::vector<int32_t> ids;       // generated ids (the prompt not included)
  std::string text;               // detokenized `ids` (empty without a detokenizer)
  std::vector<float> logprobs;    // log p(ids[i] | prefix) under the model (untempered), one per id
  std::string stop_reason;        // "eos", "stop_string" or "length"
};

// ids -> text, for stop strings and Generation::text.
using Detokenizer = std::function<std::string(const std::vector<int32_t>&)>;

}  // namespace t2
