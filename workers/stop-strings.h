// Stop strings checked incrementally during generation: each step decodes only a window of the last
// ids (the tokens of the previous step plus the new one) instead of the whole answer, and searches only
// the text that can contain a new match. Torch-free.
//
// The window trick (as in HF's and vLLM's incremental detokenizers): decode ids[prefix, end) and
// ids[prefix, read), and the new text is the first decode minus the second, so a decoder that treats
// the first id of a call specially (SentencePiece drops the leading space only at the start) gives the
// same text as decoding the whole answer. A hit is confirmed on the full decode, so a stop, and the
// text cut before it, are exactly what decoding the whole answer at that step gives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workers/generation.h"

namespace t2 {

class StopStringScanner {
 public:
  // `stops` (empty strings never match) and `detok` must outlive the scanner.
  StopStringScanner(const std::vector<std::string>& stops, const Detokenizer& detok);

  // `ids`: every id generated so far, one more than at the previous call. True when the decoded
  // text now contains a stop string; then text() is detok(ids) cut before the earliest one.
  bool push(const std::vector<int32_t>& ids);
  const std::string& text() const { return cut_; }

 private:
  const std::vector<std::string>& stops_;
  const Detokenizer& detok_;
  size_t max_stop_ = 0;
  size_t prefix_ = 0, read_ = 0;  // window [prefix_, ids.size()); text emitted up to read_
  std::string window_text_;       // detok(ids[prefix_, read_))
  std::string text_;              // decoded text so far (all ids up to read_)
  std::string cut_;
};

// How many leading ids of a stopped answer carry its text: the longest prefix of `ids` whose decoded
// text is a prefix of `kept` (the text cut before the stop string). The ids after it spelled the stop
// string; a token that straddles the cut counts with them.
size_t answer_token_count(const std::vector<int32_t>& ids, const std::string& kept, const Detokenizer& detok);

// The earliest occurrence of any non-empty stop string in text at or after `from`; npos when none.
size_t find_stop(const std::string& text, const std::vector<std::string>& stops, size_t from = 0);

}  // namespace t2
