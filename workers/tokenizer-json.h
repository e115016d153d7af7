// Internal: reads a Hugging Face tokenizer.json with a byte-level BPE model (the format of Llama 3,
// Qwen2, GPT-2): model.vocab, model.merges ("a b" strings or ["a","b"] pairs), model.ignore_merges,
// added_tokens, an NFC normalizer, and a pre_tokenizer made of Split (regex, Isolated/Removed) and
// ByteLevel steps.
#pragma once

#include <memory>
#include <string>

#include "workers/tokenizer-bpe.h"

namespace t2 {

// Throws FormatError naming the file and the key path (model.merges[12]) for malformed content, and
// NotAvailable for valid files of a kind t2 does not implement (Unigram, WordPiece, Metaspace BPE).
std::unique_ptr<BpeModel> load_tokenizer_json(const std::string& path);

}  // namespace t2
