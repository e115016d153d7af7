#include "workers/tokenizer-train.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "workers/tokenizer-byte-level.h"
#include "workers/tokenizer-regex.h"

namespace t2 {

int32_t TrainedBpe::special_id(const std::string& text) const {
  for (size_t i = 0; i < special_tokens.size(); ++i)
    if (special_tokens[i] == text) return static_cast<int32_t>(tokens.size() + i);
  T2_FAIL_AS(UsageError, "tokenizer has no special token '{}'", text);
}

namespace {

// Splits `text` at every occurrence of a special token (leftmost, longest first) and calls f on the
// plain text between them.
template <typename F>
void for_plain_segments(const std::string& text, const std::vector<std::string>& specials, F f) {
  size_t pos = 0, start = 0;
  while (pos < text.size()) {
    size_t best_len = 0;
    if (text[pos] == '<')
      for (const auto& s : specials)
        if (s.size() > best_len && text.compare(pos, s.size(), s) == 0) best_len = s.size();
    if (best_len) {
      if (pos > start) f(std::string_view(text).substr(start, pos - start));
      pos += best_len;
      start = pos;
    } else {
      ++pos;
    }
  }
  if (start < text.size()) f(std::string_view(text).substr(start));
}

}  // namespace

TrainedBpe train_byte_level_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt) {
  TrainedBpe out;
  out.pattern = opt.pattern.empty() ? kQwen2Pattern : opt.pattern;
  out.special_tokens = opt.special_tokens;
  const int32_t room = opt.vocab_size - 256 - static_cast<int32_t>(opt.special_tokens.size());
  T2_CHECK_AS(UsageError, room >= 0, "BPE vocab_size {} is smaller than 256 bytes + {} special tokens",
              opt.vocab_size, opt.special_tokens.size());
  for (int b = 0; b < 256; ++b) out.tokens.push_back(std::string(1, static_cast<char>(b)));

  // distinct pieces with their counts (std::map: a fixed order)
  SplitRegex re(out.pattern, "BPE training pattern");
  std::map<std::string, int64_t> piece_count;
  std::vector<std::string_view> pieces;
  for (const auto& t : texts)
    for_plain_segments(t, opt.special_tokens, [&](std::string_view seg) {
      pieces.clear();
      re.split(seg, true, pieces);
      for (auto p : pieces) ++piece_count[std::string(p)];
    });
  struct Word {
    std::vector<int32_t> sym;
    int64_t count;
  };
  std::vector<Word> words;
  words.reserve(piece_count.size());
  for (const auto& [p, n] : piece_count) {
    if (p.size() < 2) continue;
    Word w{{}, n};
    for (unsigned char c : p) w.sym.push_back(c);
    words.push_back(std::move(w));
  }

  for (int32_t m = 0; m < room; ++m) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pairs;
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.sym.size(); ++i) pairs[{w.sym[i], w.sym[i + 1]}] += w.count;
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_n = 0;
    for (const auto& [pr, n] : pairs)  // ascending pair order: the first maximum wins ties
      if (n > best_n) best = pr, best_n = n;
    if (best_n < opt.min_pair_count) break;
    const int32_t id = static_cast<int32_t>(out.tokens.size());
    out.tokens.push_back(out.tokens[best.first] + out.tokens[best.second]);
    out.merges.push_back({out.tokens[best.first], out.tokens[best.second]});
    for (auto& w : words) {
      if (w.sym.size() < 2) continue;
      std::vector<int32_t> s;
      s.reserve(w.sym.size());
      for (size_t i = 0; i < w.sym.size(); ++i) {
        if (i + 1 < w.sym.size() && w.sym[i] == best.first && w.sym[i + 1] == best.second) {
          s.push_back(id);
          ++i;
        } else {
          s.push_back(w.sym[i]);
        }
      }
      w.sym.swap(s);
    }
  }
  return out;
}

std::string bpe_tokenizer_json(const TrainedBpe& bpe, const std::string& bos_token) {
  using oj = nlohmann::ordered_json;
  const int32_t bos = bpe.special_id(bos_token);
  oj added = oj::array();
  for (size_t i = 0; i < bpe.special_tokens.size(); ++i)
    added.push_back({{"id", static_cast<int32_t>(bpe.tokens.size() + i)},
                     {"content", bpe.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  oj vocab = oj::object();
  for (size_t i = 0; i < bpe.tokens.size(); ++i) vocab[byte_level::encode(bpe.tokens[i])] = static_cast<int32_t>(i);
  oj merges = oj::array();
  for (const auto& [a, b] : bpe.merges) merges.push_back(byte_level::encode(a) + " " + byte_level::encode(b));
  oj bos_piece = {{"SpecialToken", {{"id", bos_token}, {"type_id", 0}}}};
  oj root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", bpe.pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
          {{"type", "TemplateProcessing"},
           {"single", {bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
           {"pair",
            {bos_piece,
             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
             {{"SpecialToken", {{"id", bos_token}, {"type_id", 1}}}},
             {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
           {"special_tokens", {{bos_token, {{"id", bos_token}, {"ids", {bos}}, {"tokens", {bos_token}}}}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  return root.dump(2, ' ', false) + "\n";
}

}  // namespace t2
