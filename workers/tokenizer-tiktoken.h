// Internal: Meta's original Llama 3 tokenizer.model, a tiktoken rank file (one "base64(bytes) rank"
// per line, rank = id = merge priority), with the Llama 3 pre-tokenizer regex and the 256 special
// tokens after the last rank (names from tokenizer_config.json when present, else the Llama 3.1 ones).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "workers/tokenizer-bpe.h"

namespace t2 {

// True when the file starts like a tiktoken rank file (and not a SentencePiece protobuf).
bool looks_like_tiktoken(std::string_view head);

// Throws FormatError naming file and line for a malformed line.
std::unique_ptr<BpeModel> load_tiktoken(const std::string& path);

}  // namespace t2
