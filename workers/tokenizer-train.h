// Learns a byte-level BPE vocabulary from text and writes it as a Hugging Face tokenizer.json that
// Tokenizer::load (and HF `tokenizers`) read: the 256 byte tokens (id = byte value), then one token
// per learned merge, then the special tokens as added tokens. Torch-free (t2_workers_base).
//
// Learning is classic BPE over the pieces of the split regex: count every adjacent pair of symbols
// (weighted by how often the piece occurs), merge the most frequent pair, repeat. Ties go to the
// smallest (left id, right id), so the result is a pure function of the texts and the options.
// Special-token text in the input (e.g. "<|eot_id|>") is cut out before splitting, as an encoder does.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace t2 {

struct BpeTrainOptions {
  int32_t vocab_size = 512;                 // bytes + merges + special tokens (upper bound)
  int64_t min_pair_count = 2;               // stop when no pair occurs this often
  std::string pattern;                      // split regex; "" = kQwen2Pattern (digits one at a time)
  std::vector<std::string> special_tokens;  // ids follow the merges, in this order
};

struct TrainedBpe {
  std::string pattern;
  std::vector<std::string> tokens;                          // id -> raw bytes (bytes, then merges)
  std::vector<std::pair<std::string, std::string>> merges;  // raw bytes, in rank order
  std::vector<std::string> special_tokens;                  // ids tokens.size() + i
  int32_t vocab_size() const { return static_cast<int32_t>(tokens.size() + special_tokens.size()); }
  int32_t special_id(const std::string& text) const;        // UsageError when absent
};

TrainedBpe train_byte_level_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt);

// tokenizer.json in the layout of Llama 3's: Split(pattern, Isolated) + ByteLevel(use_regex=false)
// pre-tokenizer, ByteLevel decoder, a TemplateProcessing post-processor that puts `bos_token` first
// (HF encode(); t2 never adds it there), the BPE model with "a b" merges. Key order fixed.
std::string bpe_tokenizer_json(const TrainedBpe& bpe, const std::string& bos_token);

}  // namespace t2
