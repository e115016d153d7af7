// Incremental stop strings (workers/stop-strings.h) against the direct rule they replace: decode the
// whole answer after every id and stop at the first step whose text holds a stop string, cut before
// the earliest one. Detokenizers: one that spells ids, one that drops the leading space of the first
// id as SentencePiece does, one whose multi-byte characters are split over ids, and (with the shared
// data) the Mistral SentencePiece and Llama 3 byte-level BPE tokenizers on random ids.
#include <gtest/gtest.h>

#include <random>

#include "tests/support/test-support.h"
#include "tests/workers/tokenizers/tokenizer-test-util.h"
#include "workers/stop-strings.h"
#include "workers/tokenizer.h"

namespace t2 {
namespace {

struct Outcome {
  int steps = -1;  // ids consumed when the stop was found; -1 none
  std::string text;
  bool operator==(const Outcome& o) const { return steps == o.steps && text == o.text; }
};

Outcome direct(const std::vector<int32_t>& ids, const std::vector<std::string>& stops, const Detokenizer& d) {
  std::vector<int32_t> prefix;
  for (size_t i = 0; i < ids.size(); ++i) {
    prefix.push_back(ids[i]);
    std::string text = d(prefix);
    size_t cut = find_stop(text, stops);
    if (cut != std::string::npos) return {static_cast<int>(i + 1), text.substr(0, cut)};
  }
  return {};
}

Outcome incremental(const std::vector<int32_t>& ids, const std::vector<std::string>& stops, const Detokenizer& d) {
  StopStringScanner scan(stops, d);
  std::vector<int32_t> prefix;
  for (size_t i = 0; i < ids.size(); ++i) {
    prefix.push_back(ids[i]);
    if (scan.push(prefix)) return {static_cast<int>(i + 1), scan.text()};
  }
  return {};
}

// Stops taken from the decoded text of the sequence itself (so that they do occur), plus misses.
void check_many(const Detokenizer& d, int vocab, int rounds, uint32_t seed) {
  std::mt19937 rng(seed);
  int hits = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<int32_t> ids(40);
    for (auto& i : ids) i = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
    std::string text = d(ids);
    std::vector<std::string> stops = {"\x01never"};
    if (!text.empty()) {
      size_t len = 1 + rng() % 6, at = rng() % text.size();
      stops.push_back(text.substr(at, len));
      if (r % 3 == 0) stops.push_back(text.substr(rng() % text.size(), 2));
    }
    Outcome a = direct(ids, stops, d), b = incremental(ids, stops, d);
    EXPECT_EQ(a.steps, b.steps) << "round " << r << " stop '" << stops.back() << "'";
    EXPECT_EQ(a.text, b.text) << "round " << r;
    hits += a.steps >= 0;
  }
  EXPECT_GT(hits, rounds / 2);
}

TEST(StopStrings, IncrementalEqualsWholeDecodeOnSpelledIds) {
  Detokenizer d = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += "<" + std::to_string(i) + ">";
    return s;
  };
  check_many(d, 50, 200, 1);
  // a stop string that spans ids and one that equals the first id's text
  std::vector<int32_t> ids = {3, 14, 15, 92, 65};
  EXPECT_TRUE(incremental(ids, {"4><15"}, d) == direct(ids, {"4><15"}, d));
  EXPECT_EQ(incremental(ids, {"4><15"}, d).steps, 3);
  EXPECT_EQ(incremental(ids, {"<3>"}, d).steps, 1);
  EXPECT_EQ(incremental(ids, {"<3>"}, d).text, "");
  EXPECT_EQ(incremental(ids, {"", "zz"}, d).steps, -1);
}

TEST(StopStrings, IncrementalEqualsWholeDecodeWhenTheFirstIdIsSpecial) {
  // SentencePiece-like: every id is " w<i>", the space of the very first id is dropped
  Detokenizer d = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += " w" + std::to_string(i % 7);
    return s.empty() ? s : s.substr(1);
  };
  check_many(d, 30, 200, 2);
  std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_EQ(incremental(ids, {" w2"}, d).steps, 2);
  EXPECT_EQ(incremental(ids, {" w2"}, d).text, "w1");
}

TEST(StopStrings, IncrementalEqualsWholeDecodeWithSplitMultiByteCharacters) {
  // ids 0..2 are the three bytes of "€", ids 3.. ASCII letters
  Detokenizer d = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += i < 3 ? std::string(1, "\xE2\x82\xAC"[i]) : std::string(1, static_cast<char>('a' + i % 5));
    return s;
  };
  check_many(d, 8, 300, 3);
  std::vector<int32_t> ids = {3, 0, 1, 2, 4};
  EXPECT_EQ(incremental(ids, {"\xE2\x82\xAC"}, d).steps, 4);
  EXPECT_EQ(incremental(ids, {"\xE2\x82\xAC"}, d).text, "d");
}

TEST(StopStrings, IncrementalEqualsWholeDecodeOnRealTokenizers) {
  T2_REQUIRE_DATA(dir);
  auto spm = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  Detokenizer ds = [&](const std::vector<int32_t>& ids) { return spm->decode(ids, true); };
  check_many(ds, spm->vocab_size(), 60, 4);
  std::string hf = test::make_hf_model_dir(dir, "llama3", "strings");
  auto bpe = Tokenizer::load(hf);
  Detokenizer db = [&](const std::vector<int32_t>& ids) { return bpe->decode(ids, true); };
  check_many(db, 128000, 60, 5);
  test::remove_tree(hf);
}

// The ids after the answer spelled the stop string: answer_token_count finds where the answer's
// tokens end, counting a token that straddles the cut with the stop string.
TEST(StopStrings, AnswerTokenCountEndsBeforeTheStopString) {
  const std::vector<std::string> pieces = {"The", " answer", " is 4.", "\n\nRes", "ponse:", " 4.\nRes", "Instruction"};
  Detokenizer d = [&](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t i : ids) s += pieces.at(static_cast<size_t>(i));
    return s;
  };
  const std::vector<std::string> stops = {"Instruction:", "Instruction", "Response:", "Response"};
  auto run = [&](const std::vector<int32_t>& ids) {
    StopStringScanner scan(stops, d);
    std::vector<int32_t> prefix;
    for (int32_t id : ids) {
      prefix.push_back(id);
      if (scan.push(prefix)) return std::make_pair(scan.text(), answer_token_count(prefix, scan.text(), d));
    }
    return std::make_pair(std::string("(no stop)"), prefix.size());
  };
  auto [text, n] = run({0, 1, 2, 3, 4, 1});
  EXPECT_EQ(text, "The answer is 4.\n\n");
  EXPECT_EQ(n, 3u);  // "\n\nRes" and "ponse:" spelled the stop string
  std::tie(text, n) = run({0, 1, 5, 4});
  EXPECT_EQ(text, "The answer 4.\n");
  EXPECT_EQ(n, 2u);  // " 4.\nRes" straddles the cut: it goes with the stop string
  std::tie(text, n) = run({6});
  EXPECT_EQ(text, "");
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace t2
