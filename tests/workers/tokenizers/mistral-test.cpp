// Mistral v0.3 (SentencePiece v3 tokenizer + [INST] template) against mistral-common's reference
// samples: the rendered text (text_v3.txt, pieces joined) and the token ids (tokens_v3.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"
#include "tests/workers/tokenizers/tokenizer-test-util.h"
#include "workers/chat-template.h"
#include "workers/tokenizer.h"

namespace t2 {
namespace {

std::vector<ChatMessage> sample_messages(const std::string& path) {
  auto j = nlohmann::json::parse(read_file(path));
  std::vector<ChatMessage> out;
  for (const auto& m : j["messages"]) out.push_back({m["role"].get<std::string>(), m.value("content", "")});
  return out;
}

std::vector<int32_t> sample_tokens(const std::string& path) {
  return nlohmann::json::parse(read_file(path))["tokens"].get<std::vector<int32_t>>();
}

// text_v3.txt writes pieces: "▁" for a space, <0x0A> for a newline byte.
std::string unpiece(std::string s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
    } else if (s.compare(i, 6, "<0x0A>") == 0) {
      out += '\n';
      i += 5;
    } else {
      out += s[i];
    }
  }
  return out;
}

TEST(MistralV3, LoadsSentencePieceModelWithControlTokens) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 32768);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(tok->token_id("[INST]"), 3);
  EXPECT_EQ(tok->token_id("[/INST]"), 4);
  EXPECT_EQ(tok->token_id("[TOOL_CALLS]"), 5);
  EXPECT_TRUE(tok->is_special(3));
  EXPECT_EQ(tok->token_text(781), "<0x0A>");
}

TEST(MistralV3, NoToolsSampleRendersAndTokenizesExactly) {
  T2_REQUIRE_DATA(dir);
  std::string s = dir + "/tokenizers/mistral-v0.3/samples/no_tools__";
  auto tok = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  auto tmpl = ChatTemplate::for_tokenizer(*tok);
  ASSERT_EQ(tmpl->name(), "mistral");
  auto messages = sample_messages(s + "sample.json");
  ASSERT_EQ(messages.size(), 7u);
  std::string text = tmpl->render(messages, true);
  EXPECT_EQ(text, unpiece(read_file(s + "text_v3.txt")));
  auto expected = sample_tokens(s + "tokens_v3.json");
  ASSERT_EQ(expected.size(), 98u);
  auto ids = encode_chat(*tok, *tmpl, messages, true);
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 1);  // exactly one BOS
  EXPECT_EQ(tok->decode(ids), text);                      // decode reproduces the prompt
}

TEST(MistralV3, UserTurnEqualsPlainSentencePieceEncode) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  auto expected = sample_tokens(dir + "/tokenizers/mistral-v0.3/samples/no_tools__tokens_v3.json");
  // ids 2..13 of the sample are the first user turn, i.e. sp.encode("What's the result of 5 + 5?").
  std::vector<int32_t> turn(expected.begin() + 2, expected.begin() + 14);
  EXPECT_EQ(tok->encode("What's the result of 5 + 5?"), turn);
  EXPECT_EQ(tok->decode(turn), "What's the result of 5 + 5?");
}

TEST(MistralV3, DecodeRoundTripsTestStrings) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  auto vectors = test::read_tokenizer_vectors(dir + "/tokenizers/llama3/testvec/ggml-vocab-llama-bpe.gguf");
  int exact = 0;
  for (const auto& v : vectors) exact += tok->decode(tok->encode(v.text)) == v.text;
  // SentencePiece keeps every string of this set (no whitespace folding in the v3 normaliser).
  EXPECT_EQ(exact, static_cast<int>(vectors.size()));
}

TEST(MistralV3, ToolsSampleRendersAndTokenizesExactly) {
  T2_REQUIRE_DATA(dir);
  std::string s = dir + "/tokenizers/mistral-v0.3/samples/get_weather_full__";
  auto j = nlohmann::ordered_json::parse(read_file(s + "sample.json"));
  std::vector<ChatMessage> messages;
  for (const auto& m : j["messages"]) {
    ChatMessage c{m["role"].get<std::string>(), m.value("content", "")};
    if (m.contains("tool_calls") && m["tool_calls"].is_array())
      for (const auto& tc : m["tool_calls"])
        c.tool_calls.push_back({tc["id"].get<std::string>(), tc["function"]["name"].get<std::string>(),
                                tc["function"]["arguments"].get<std::string>()});
    c.tool_call_id = m.value("tool_call_id", "");
    messages.push_back(c);
  }
  ASSERT_EQ(messages.size(), 13u);
  auto tok = Tokenizer::load(dir + "/tokenizers/mistral-v0.3");
  auto tmpl = ChatTemplate::by_name("mistral");
  std::string text = tmpl->render_with_tools(messages, j["tools"].dump(), true);
  EXPECT_EQ(text, unpiece(read_file(s + "text_v3.txt")));
  auto expected = sample_tokens(s + "tokens_v3.json");
  ASSERT_EQ(expected.size(), 633u);
  auto ids = tok->encode(text);
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tok->decode(ids), text);
  // Templates other than mistral refuse tool definitions instead of dropping them.
  EXPECT_THROW(ChatTemplate::by_name("chatml")->render_with_tools(messages, j["tools"].dump()), NotAvailable);
}

TEST(MistralV3, SystemMessagesGoToTheLastUserTurn) {
  auto tmpl = ChatTemplate::by_name("mistral_v3");
  std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
  EXPECT_EQ(tmpl->render(m, true), "<s>[INST] Hi[/INST] Hello</s>[INST] Be brief.\n\nBye[/INST]");
  EXPECT_THROW(tmpl->render({{"assistant", "x"}}, true), UsageError);
}

}  // namespace
}  // namespace t2
