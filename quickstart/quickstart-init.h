// `t2 quickstart-init OUT_DIR`: builds the quickstart's own default model and tasks, so the whole
// Transformer² method can be seen working on a laptop CPU (examples/quickstart.yaml, docs/quickstart.md).
//
//   OUT_DIR/data/*.jsonl   the synthetic tasks (quickstart/quickstart-data.h) in their kinds' formats
//   OUT_DIR/model/         a tiny LlamaForCausalLM in the Hugging Face layout: config.json,
//                          generation_config.json, model.safetensors, tokenizer.json (byte-level BPE
//                          learned on the prompts), tokenizer_config.json (Llama 3 chat template),
//                          special_tokens_map.json
//   OUT_DIR/quickstart.json what was built (seed, sizes, steps, task table)
//
// The model is trained from scratch (workers/tiny-pretrain.h) on the tasks' training items, each
// prompt rendered exactly as t2 renders it at evaluation (the task's Example, its chat template through
// the folder's own tokenizer and template, encode_chat), followed by a careful or a sloppy answer.
// Then every test set is answered greedily by the runtime (workers/runtime.h) and scored by the task's
// own scorer: the base accuracies printed at the end. Same seed and steps: byte-identical files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "quickstart/quickstart-data.h"

namespace t2::quickstart {

struct ModelShape {
  int64_t hidden = 64;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t intermediate = 192;
  int32_t vocab = 1024;  // bytes + learned merges + 5 special tokens
};

struct InitOptions {
  std::string out_dir;
  uint64_t seed = 1;
  int64_t steps = 2500;         // pre-training steps (reproducible)
  double train_seconds = 0;     // > 0: train for about this long instead (not byte-reproducible)
  int64_t batch_size = 32;
  double lr = 3e-3;
  bool force = false;           // replace an existing OUT_DIR/model and OUT_DIR/data
  bool evaluate = true;         // greedy base accuracy on every test set at the end
  int eval_threads = 2;         // sandbox programs at once during the evaluation
  std::string responses_dir;    // when set: the evaluation's answers, one <task>.jsonl each
  DataSizes sizes;
  ModelShape shape;
  std::function<void(const std::string&)> log;  // progress lines (nullptr: quiet)
};

struct TaskScore {
  std::string task, kind;
  size_t n = 0, correct = 0, careful = 0;  // careful: responses that took the careful form
  double accuracy() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0; }
};

struct InitReport {
  // the four tasks, then "dispatch" (the classification prompt, Llama 3 template, on the three training
  // tasks' test questions) and "dispatch_code" (the same for code questions in the code_prompt template)
  std::vector<TaskScore> base;
  int64_t steps = 0;
  double train_seconds = 0, eval_seconds = 0, total_seconds = 0;
  double final_loss = 0;
  int32_t vocab_size = 0;
  std::vector<std::pair<std::string, uint64_t>> files;  // relative path, bytes
};

InitReport quickstart_init(const InitOptions& opt);

// The maximum number of new tokens the quickstart's answers need (used by the evaluation and the
// campaign), and the text of the model folder's chat template (Llama 3 Instruct's Jinja).
int quickstart_max_new_tokens();
const std::string& llama3_chat_template_jinja();

}  // namespace t2::quickstart
