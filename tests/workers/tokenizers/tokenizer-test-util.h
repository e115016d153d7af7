// Helpers shared by the tokenizer tests: the llama.cpp test vectors and model folders assembled in a
// temp directory from the component files in ../shared/tokenizers (never copied into the project).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t2::test {

struct TokenizerVector {
  std::string text;
  std::vector<int32_t> ids;
};

// `<base>.inp` (cases separated by "\n__ggml_vocab_test__\n") and `<base>.out` (one id list per line).
std::vector<TokenizerVector> read_tokenizer_vectors(const std::string& base);

// A fresh folder with a tokenizer.json built by scripts/make-tokenizer-json from the shared
// component files of `family` ("llama3" or "qwen2") plus a link to its tokenizer_config.json.
std::string make_hf_model_dir(const std::string& data_dir, const std::string& family,
                              const std::string& merges_form);

// Runs a command; fails the test (ADD_FAILURE) and returns false when it does not exit 0.
bool run_ok(const std::vector<std::string>& argv);

void remove_tree(const std::string& dir);

}  // namespace t2::test
