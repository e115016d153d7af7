// Pre-tokenizer regexes through PCRE2 (UTF-8, Unicode properties, JIT when available): splits text
// into the pieces that BPE then encodes one by one, as HF's Split pre-tokenizer does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace t2 {

// Llama 3 (tokenizer.json Split pattern and tiktoken's pat_str).
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3, but digits one at a time.
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2 (ByteLevel pre-tokenizer with use_regex=true).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class SplitRegex {
 public:
  // Throws FormatError naming `origin` (file and key) and the pattern offset when it does not compile.
  SplitRegex(const std::string& pattern, const std::string& origin);
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // HF behaviour "Isolated" (keep_gaps=true: matches and the text between them become pieces) or
  // "Removed" (keep_gaps=false: only matches). Throws UsageError when text is not valid UTF-8.
  void split(std::string_view text, bool keep_gaps, std::vector<std::string_view>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

}  // namespace t2
