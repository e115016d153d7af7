// Internal: a SentencePiece model (Mistral's tokenizer.model) through libsentencepiece, reached via
// the dlopen()ed shim libt2_spm_shim.so (see workers/sentencepiece-shim/spm-shim.h for why). Text that
// begins the input gets SentencePiece's dummy-prefix space; text after a special token does not (a
// second processor is loaded from the same model with add_dummy_prefix switched off), which is what
// mistral-common and HF (legacy=false) produce for "[INST] text". Control tokens ([INST], <s>, ...)
// are exposed as special added tokens.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "workers/tokenizer-model.h"

namespace t2 {

bool looks_like_sentencepiece(std::string_view head);

class SpmModel : public TokenizerModel {
 public:
  // Throws FormatError naming the file when libsentencepiece cannot read it.
  explicit SpmModel(const std::string& path);
  ~SpmModel() override;

  void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const override;
  std::string decode(const std::vector<int32_t>& ids, bool at_start) const override;
  std::string token_text(int32_t id) const override;
  std::optional<int32_t> piece_id(std::string_view piece) const override;
  int32_t size() const override;
  std::string kind() const override { return "sentencepiece"; }
  std::vector<AddedToken> builtin_added_tokens() const override;

  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  bool add_dummy_prefix() const { return add_dummy_prefix_; }

  struct Processor;  // one model loaded inside the shim (defined in tokenizer-spm.cpp)

 private:
  std::string path_;
  std::unique_ptr<Processor> with_prefix_, no_prefix_;
  std::vector<std::string> bytes_;  // id -> decoded bytes ("▁" as space, <0x0A> as a byte)
  bool add_dummy_prefix_ = true;
};

}  // namespace t2
