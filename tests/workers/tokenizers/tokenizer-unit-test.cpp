// Tokenizer behaviour on small hand-made tokenizers: merge priority, both merges forms,
// ignore_merges, added tokens, errors that name file and key/line/byte, NFC against Python.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"
#include "tests/workers/tokenizers/tokenizer-test-util.h"
#include "workers/tokenizer-byte-level.h"
#include "workers/tokenizer-nfc.h"
#include "workers/tokenizer.h"

namespace t2 {
namespace {

using nlohmann::json;

// A byte-level BPE: ids 0..255 are the bytes in order, then the merged tokens in `extra`.
json tiny_tokenizer(const std::vector<std::pair<std::string, std::string>>& merges, bool pairs,
                    const std::vector<std::string>& extra = {}, bool ignore_merges = false) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::byte_to_text(static_cast<unsigned char>(b))] = b;
  int next = 256;
  for (const auto& m : merges)
    if (!vocab.contains(m.first + m.second)) vocab[m.first + m.second] = next++;
  for (const auto& e : extra)
    if (!vocab.contains(e)) vocab[e] = next++;
  json jm = json::array();
  for (const auto& m : merges) {
    if (pairs)
      jm.push_back({m.first, m.second});
    else
      jm.push_back(m.first + " " + m.second);
  }
  return {{"version", "1.0"},
          {"added_tokens", json::array({{{"id", next}, {"content", "<|end|>"}, {"special", true}},
                                        {{"id", next + 1}, {"content", "<tool>"}, {"special", false}}})},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", jm}, {"ignore_merges", ignore_merges}}}};
}

class TinyTokenizer : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("tok-unit"); }
  void TearDown() override { test::remove_tree(dir_); }
  std::unique_ptr<Tokenizer> load(const json& j) {
    write_file_atomic(dir_ + "/tokenizer.json", j.dump());
    return Tokenizer::load(dir_);
  }
  std::unique_ptr<Tokenizer> load_text(const std::string& name, const std::string& text) {
    write_file_atomic(dir_ + "/" + name, text);
    return Tokenizer::load(dir_);
  }
  // The message of the exception Tokenizer::load throws for `j`.
  template <typename E>
  std::string load_error(const json& j) {
    try {
      load(j);
    } catch (const E& e) {
      return e.what();
    }
    ADD_FAILURE() << "no exception of the expected type";
    return "";
  }
  std::string dir_;
};

TEST_F(TinyTokenizer, LowestRankMergesFirstInBothForms) {
  for (bool pairs : {false, true}) {
    // "b c" has rank 0: "abc" -> a + bc; with the order swapped -> ab + c.
    auto t1 = load(tiny_tokenizer({{"b", "c"}, {"a", "b"}}, pairs));
    EXPECT_EQ(t1->encode("abc"), (std::vector<int32_t>{'a', 256}));
    auto t2 = load(tiny_tokenizer({{"a", "b"}, {"b", "c"}}, pairs));
    EXPECT_EQ(t2->encode("abc"), (std::vector<int32_t>{256, 'c'}));
  }
}

TEST_F(TinyTokenizer, ChainedMergesAndSpaces) {
  auto t = load(tiny_tokenizer({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}}, false));
  // ids: he 256, ll 257, hell 258, hello 259, Ġw 260
  EXPECT_EQ(t->encode("hello"), std::vector<int32_t>{259});
  std::vector<int32_t> expected = {259, 260, 'o', 'r', 'l', 'd'};
  EXPECT_EQ(t->encode("hello world"), expected);
  EXPECT_EQ(t->decode(expected), "hello world");
  EXPECT_EQ(t->token_text(260), "Ġw");
  EXPECT_EQ(t->token_id("Ġw"), 260);
  EXPECT_EQ(t->encode("ll ll"), (std::vector<int32_t>{257, ' ', 257}));  // "Ġ l" is no merge
}

TEST_F(TinyTokenizer, IgnoreMergesTakesWholeWords) {
  auto with = load(tiny_tokenizer({{"a", "b"}}, false, {"abc"}, true));
  EXPECT_EQ(with->encode("abc"), std::vector<int32_t>{257});
  auto without = load(tiny_tokenizer({{"a", "b"}}, false, {"abc"}, false));
  EXPECT_EQ(without->encode("abc"), (std::vector<int32_t>{256, 'c'}));
}

TEST_F(TinyTokenizer, AddedTokens) {
  auto t = load(tiny_tokenizer({{"a", "b"}}, false));
  // ids: ab 256, <|end|> 257 (special), <tool> 258 (not special)
  EXPECT_EQ(t->vocab_size(), 259);
  EXPECT_EQ(t->encode("ab<|end|>ab"), (std::vector<int32_t>{256, 257, 256}));
  auto plain = t->encode("ab<|end|>", false);
  EXPECT_EQ(plain.size(), 8u);  // ab + the 7 bytes of <|end|>
  EXPECT_EQ(t->encode("x<tool>y", false), (std::vector<int32_t>{'x', 258, 'y'}));  // non-special always match
  EXPECT_TRUE(t->is_special(257));
  EXPECT_FALSE(t->is_special(258));
  EXPECT_EQ(t->decode({256, 257, 258}), "ab<|end|><tool>");
  EXPECT_EQ(t->decode({256, 257, 258}, true), "ab<tool>");
}

TEST_F(TinyTokenizer, RoundTripsEveryByteSequence) {
  auto t = load(tiny_tokenizer({{"a", "b"}}, false));
  std::string all;
  for (int b = 0; b < 128; ++b) all += static_cast<char>(b);
  all += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99";  // é € 🦙
  EXPECT_EQ(t->decode(t->encode(all)), all);
  // Partial UTF-8 sequences survive decode byte for byte.
  EXPECT_EQ(t->decode({0xF0, 0x9F}), std::string("\xF0\x9F"));
}

TEST_F(TinyTokenizer, BadInputAndIds) {
  auto t = load(tiny_tokenizer({}, false));
  try {
    t->encode("ok\xFFno");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 at byte 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t->decode({1, 100000}), UsageError);
  EXPECT_THROW(t->decode({-1}), UsageError);
}

TEST_F(TinyTokenizer, MalformedFilesNameFileAndKey) {
  std::string file = dir_ + "/tokenizer.json";
  auto has = [&](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << "expected '" << part << "' in: " << msg;
  };
  json j = tiny_tokenizer({{"a", "b"}, {"x", "zz"}}, false);
  has(load_error<FormatError>(j), "model.merges[1]");
  j = tiny_tokenizer({{"a", "b"}}, false);
  j["model"]["merges"][0] = "a b c";
  has(load_error<FormatError>(j), "model.merges[0]");
  j = tiny_tokenizer({{"a", "b"}}, true);
  j["model"]["merges"][0] = json::array({"a"});
  has(load_error<FormatError>(j), "model.merges[0]");
  j = tiny_tokenizer({}, false);
  j["model"]["vocab"]["q"] = "seven";
  has(load_error<FormatError>(j), "model.vocab[\"q\"]");
  j = tiny_tokenizer({}, false);
  j["model"]["vocab"].erase("Ġ");
  has(load_error<FormatError>(j), "byte 0x20");
  j = tiny_tokenizer({}, false);
  j.erase("model");
  has(load_error<FormatError>(j), "model: missing");
  j = tiny_tokenizer({}, false);
  j["added_tokens"][0].erase("content");
  has(load_error<FormatError>(j), "added_tokens[0].content");
  j = tiny_tokenizer({}, false);
  j["model"]["type"] = "Unigram";
  has(load_error<NotAvailable>(j), "model.type 'Unigram'");
  j = tiny_tokenizer({}, false);
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  has(load_error<FormatError>(j), "does not compile");

  write_file_atomic(file, "{\"model\": {\"vocab\": ");
  try {
    Tokenizer::load(dir_);
    FAIL();
  } catch (const FormatError& e) {
    has(e.what(), "not valid JSON at byte");
  }
}

TEST_F(TinyTokenizer, FolderWithoutTokenizerIsAUsageError) {
  try {
    Tokenizer::load(dir_);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer found"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::load(dir_ + "/missing"), UsageError);
}

TEST_F(TinyTokenizer, TiktokenFileErrorsNameTheLine) {
  std::string text;
  for (int b = 0; b < 256; ++b) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    text += std::string{abc[b >> 2], abc[(b & 3) << 4], '=', '='} + " " + std::to_string(b) + "\n";
  }
  auto t = load_text("tokenizer.model", text + "YWI= 256\n");  // "ab"
  EXPECT_EQ(t->kind(), "tiktoken");
  EXPECT_EQ(t->encode("xab"), (std::vector<int32_t>{'x', 256}));
  EXPECT_EQ(t->vocab_size(), 257 + 256);  // the 256 Llama 3 special tokens follow the ranks
  EXPECT_EQ(t->token_id("<|begin_of_text|>"), 257);
  try {
    load_text("tokenizer.model", text + "YWI= 256\nnot base64!! x\n");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.model:258:"), std::string::npos) << e.what();
  }
}

TEST_F(TinyTokenizer, ConfigFilesSetSpecialsBosAndEos) {
  write_file_atomic(dir_ + "/tokenizer_config.json",
                    R"({"bos_token": "<|end|>", "eos_token": {"content": "<tool>"},
                        "added_tokens_decoder": {"258": {"content": "<tool>", "special": true}}})");
  write_file_atomic(dir_ + "/generation_config.json", R"({"eos_token_id": [97, 258]})");
  auto t = load(tiny_tokenizer({{"a", "b"}}, false));
  EXPECT_EQ(t->bos_id(), 257);
  EXPECT_EQ(t->eos_ids(), (std::vector<int32_t>{258, 97}));
  EXPECT_TRUE(t->is_special(258));  // the config overrides the tokenizer.json flag
  EXPECT_TRUE(t->add_bos());
  write_file_atomic(dir_ + "/tokenizer_config.json", R"({"bos_token": "<nope>"})");
  try {
    load(tiny_tokenizer({}, false));
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bos_token '<nope>'"), std::string::npos) << e.what();
  }
  write_file_atomic(dir_ + "/tokenizer_config.json", "{}");
  write_file_atomic(dir_ + "/generation_config.json", R"({"eos_token_id": 99999})");
  try {
    load(tiny_tokenizer({}, false));
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("generation_config.json: eos_token_id"), std::string::npos) << e.what();
  }
}

TEST(ByteLevel, MapIsABijectionOnAllBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string text = byte_level::encode(all);
  EXPECT_EQ(byte_level::decode(text), all);
  EXPECT_EQ(byte_level::byte_to_text(' '), "Ġ");
  EXPECT_EQ(byte_level::byte_to_text('\n'), "Ċ");
  EXPECT_FALSE(byte_level::decode("\xE2\x82\xAC").has_value());  // € is not a byte symbol
}

TEST(Nfc, MatchesPythonUnicodedata) {
  SubprocessOptions o;
  o.timeout = Seconds(120);
  auto r = run_subprocess({test::python3(), test::source_dir() + "/tests/workers/tokenizers/nfc-reference.py"}, o);
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  auto cases = json::parse(r.out);
  ASSERT_GT(cases.size(), 5000u);
  size_t bad = 0;
  for (const auto& c : cases) {
    std::string in = c[0].get<std::string>(), want = c[1].get<std::string>();
    if (nfc_normalize(in) != want && ++bad < 10) ADD_FAILURE() << "NFC of " << json(in).dump() << ": got "
                                                               << json(nfc_normalize(in)).dump() << " want " << json(want).dump();
  }
  EXPECT_EQ(bad, 0u) << "of " << cases.size();
  EXPECT_EQ(nfc_normalize("plain ascii"), "plain ascii");
}

}  // namespace
}  // namespace t2
