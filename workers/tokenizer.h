// The tokenizer of a model folder, behind one torch-free interface.
//
// Supported kinds (detected by Tokenizer::load):
//   "bpe"            Hugging Face tokenizer.json with a byte-level BPE model (Llama 3, Qwen2, GPT-2 style)
//   "tiktoken"       Meta's original Llama 3 tokenizer.model (lines "base64(bytes) rank")
//   "sentencepiece"  a SentencePiece tokenizer.model (Mistral), through libsentencepiece
// Special tokens, BOS and EOS come from tokenizer_config.json, generation_config.json and
// special_tokens_map.json beside the model file when present.
//
// encode() never adds BOS/EOS: prompts get their BOS from encode_chat() (workers/chat-template.h) or
// from the caller. decode(encode(s)) == s for every valid UTF-8 string s (byte-level kinds; for
// SentencePiece as far as the model's normaliser keeps the text).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace t2 {

// A token matched in the raw text before the model sees it (HF "added_tokens", SentencePiece control
// tokens, the Llama 3 special tokens of a tiktoken file).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;   // special tokens are matched only when encode(allow_special=true)
  bool lstrip = false;   // eats the whitespace on its left
  bool rstrip = false;   // eats the whitespace on its right
};

class TokenizerModel;  // workers/tokenizer-model.h (internal)

class Tokenizer {
 public:
  // model_dir: a folder with tokenizer.json or tokenizer.model (tiktoken or SentencePiece, detected
  // from the content), or the path of one such file. Throws UsageError when there is none and
  // FormatError (naming file and key/line/byte) when a file is malformed.
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` without BOS/EOS. With allow_special=false, special tokens written in the
  // text are tokenized as plain text (non-special added tokens still match, as in HF).
  // Throws UsageError when text is not valid UTF-8 (byte offset named).
  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const;

  // The bytes the ids stand for (special tokens as their text unless skip_special). Partial UTF-8
  // sequences are kept as raw bytes, so concatenated decodes of a split id list are exact.
  // Throws UsageError for an id outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // The token as written in the vocabulary ("Ġworld", "▁Hello", "<|eot_id|>").
  std::string token_text(int32_t id) const;
  int32_t vocab_size() const;  // largest id + 1, added tokens included

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::vector<int32_t> eos_ids() const { return eos_ids_; }
  // Whether prompts of this model start with BOS (tokenizer_config.json "add_bos_token", default:
  // true when a BOS token exists).
  bool add_bos() const { return add_bos_ && bos_id_.has_value(); }
  std::string bos_token() const;  // text of the BOS token, "" when there is none
  std::string eos_token() const;  // text of the first EOS token, "" when there is none

  // The id of an added/special token (or of a plain vocabulary entry) by its exact text.
  std::optional<int32_t> token_id(std::string_view token) const;
  bool is_special(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }

  std::string kind() const;                 // "bpe", "tiktoken" or "sentencepiece"
  const std::string& source() const { return source_; }  // the file the model was read from
  // tokenizer_config.json "chat_template" (the default one when it is a list), "" when absent.
  const std::string& chat_template_source() const { return chat_template_; }
  const std::string& tokenizer_config_path() const { return config_path_; }

 private:
  Tokenizer();
  void set_added_tokens(std::vector<AddedToken> tokens);
  void read_configs(const std::string& dir);
  void encode_text(std::string_view text, bool at_start, std::vector<int32_t>& out) const;

  std::unique_ptr<TokenizerModel> model_;
  std::vector<AddedToken> added_;
  std::unordered_map<int32_t, size_t> added_by_id_;
  std::unordered_map<std::string, int32_t> added_by_text_;
  std::vector<std::vector<size_t>> added_by_first_byte_;  // 256 lists, longest content first
  std::optional<int32_t> bos_id_;
  std::vector<int32_t> eos_ids_;
  bool add_bos_ = true;
  std::string source_, chat_template_, config_path_;
};

}  // namespace t2
