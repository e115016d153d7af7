// Internal: byte-level BPE (GPT-2 / Llama 3 / Qwen2). Text is split by the pre-tokenizer regex, each
// piece becomes its bytes, and the adjacent pair with the lowest merge rank is merged until none is
// left (priority queue, leftmost first on equal rank, as HF tokenizers). With ignore_merges a piece
// that is itself in the vocabulary is one token (HF "ignore_merges", tiktoken's first lookup).
// A bounded per-piece cache makes repeated words cheap.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "workers/tokenizer-model.h"
#include "workers/tokenizer-regex.h"

namespace t2 {

struct BpeOptions {
  std::string kind = "bpe";        // reported by Tokenizer::kind()
  std::string origin;              // file name for messages
  std::string pattern;             // split regex; "" = no split
  bool keep_gaps = true;           // HF Split behavior "Isolated" (true) or "Removed" (false)
  bool ignore_merges = false;
  bool nfc = false;                // NFC-normalise the text first (Qwen2)
  bool add_prefix_space = false;   // ByteLevel add_prefix_space: a space before text that begins the input
};

class BpeModel : public TokenizerModel {
 public:
  // tokens[id] = raw bytes of the token (ids without a token: nullopt). Every single byte must be a
  // token (byte-level BPE). Merges are added with add_merge() in rank order, or derived from the
  // ranks with derive_merges_from_ranks() (tiktoken).
  BpeModel(std::vector<std::optional<std::string>> tokens, BpeOptions opt);

  // Merge of rank `rank`: left + right -> their concatenation, which must be a token; returns false
  // (and adds nothing) when left, right or the concatenation is not in the vocabulary.
  bool add_merge(const std::string& left, const std::string& right, int32_t rank);
  // tiktoken: the rank of a pair is the id of the concatenation, for every split of every token.
  void derive_merges_from_ranks();
  void set_added(std::vector<AddedToken> added) { added_ = std::move(added); }

  void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const override;
  std::string decode(const std::vector<int32_t>& ids, bool at_start) const override;
  std::string token_text(int32_t id) const override;
  std::optional<int32_t> piece_id(std::string_view piece) const override;
  int32_t size() const override { return static_cast<int32_t>(tokens_.size()); }
  std::string kind() const override { return opt_.kind; }
  std::vector<AddedToken> builtin_added_tokens() const override { return added_; }

  std::optional<int32_t> id_of_bytes(std::string_view bytes) const;
  size_t merge_count() const { return merges_.size(); }

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;

  std::vector<std::optional<std::string>> tokens_;
  std::unordered_map<std::string, int32_t> id_of_;
  std::array<int32_t, 256> byte_id_{};
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  BpeOptions opt_;
  std::unique_ptr<SplitRegex> regex_;
  std::vector<AddedToken> added_;

  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace t2
