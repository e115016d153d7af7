// Internal: the vocabulary-level model behind a Tokenizer. It sees only text between added tokens;
// the Tokenizer splits those out first (workers/tokenizer.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workers/tokenizer.h"

namespace t2 {

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Appends the ids of one text segment. at_start: the segment begins the whole input (SentencePiece
  // adds its dummy-prefix space only there, as HF does with prepend_scheme "first").
  virtual void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const = 0;
  // The bytes of a run of ordinary ids; at_start: nothing was decoded before this run.
  virtual std::string decode(const std::vector<int32_t>& ids, bool at_start) const = 0;
  virtual std::string token_text(int32_t id) const = 0;
  virtual std::optional<int32_t> piece_id(std::string_view piece) const = 0;
  virtual int32_t size() const = 0;
  virtual std::string kind() const = 0;
  // Tokens the file itself declares as special (tokenizer.json added_tokens, SentencePiece control
  // tokens); the Tokenizer merges these with tokenizer_config.json.
  virtual std::vector<AddedToken> builtin_added_tokens() const { return {}; }
};

}  // namespace t2
