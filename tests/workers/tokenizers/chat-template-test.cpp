// Chat templates: hand-written expected strings from the families' Jinja templates (unit), the same
// conversations rendered by Jinja2 from the real template files (data), detection from the shared
// tokenizer_config.json files, and exactly one BOS in encode_chat.
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

const char* kGsmSystem =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n";

std::string render(const std::string& name, const std::vector<ChatMessage>& m, bool gen = true,
                   const std::string& prefill = "") {
  return ChatTemplate::by_name(name)->render(m, gen, prefill);
}

TEST(ChatTemplate, Llama3PlainPerMethod) {
  std::vector<ChatMessage> m = {{"system", kGsmSystem}, {"user", "  What is 2+2? \n"}};
  std::string expected =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBelow is an instruction that describes a "
      "task. Write a response that appropriately completes the request.<|eot_id|><|start_header_id|>user"
      "<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(render("llama3", m), expected);
  EXPECT_EQ(render("llama3_plain", m), expected);
  const std::string gen_prompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(render("llama3", m, false), expected.substr(0, expected.size() - gen_prompt.size()));
}

TEST(ChatTemplate, Llama3CotEndsWithThePrefill) {
  std::string r = render("llama3_cot", {{"user", "Q"}});
  EXPECT_EQ(r, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\nLet's think step by step");
}

TEST(ChatTemplate, Llama31SystemHeader) {
  EXPECT_EQ(render("llama3.1", {{"system", " Be brief. "}, {"user", "Hi"}}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, ChatmlAddsQwenDefaultSystemPrompt) {
  EXPECT_EQ(render("chatml", {{"user", "Hi"}}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render("qwen2.5", {{"system", "S"}, {"user", "Hi"}, {"assistant", "Yo"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n");
  EXPECT_EQ(render("chatml_plain", {{"user", "Hi"}}), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, CodePromptPerMethod) {
  const std::string sys =
      "You are an exceptionally intelligent coding assistant that  consistently delivers accurate and reliable "
      "responses to user instructions.";
  EXPECT_EQ(render("code_prompt", {{"system", sys}, {"user", "\nWrite f.\n"}}, true, "```python"),
            sys + "\n\n@@ Instruction:\nWrite f.\n\n@@ Response:```python");
  EXPECT_EQ(render("code_prompt", {{"user", "a"}, {"assistant", " b "}}, true), "@@ Instruction:\na\n\n@@ Response:\nb");
  EXPECT_THROW(render("code_prompt", {{"assistant", "a"}}), UsageError);
}

TEST(ChatTemplate, StripIsUnicodeAware) {
  EXPECT_EQ(strip_whitespace("\xE3\x80\x80 hi there\xC2\xA0\n"), "hi there");
  EXPECT_EQ(strip_whitespace(" \t\n"), "");
  EXPECT_EQ(strip_whitespace("\xC3\xA9"), "\xC3\xA9");  // é is not whitespace
}

TEST(ChatTemplate, UnknownNameSuggests) {
  try {
    ChatTemplate::by_name("llama_3");
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'llama3'"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, DetectsTheSharedTemplates) {
  T2_REQUIRE_DATA(dir);
  std::string t = dir + "/tokenizers/";
  EXPECT_EQ(ChatTemplate::detect(read_file(t + "llama3/tokenizer_config.json"))->name(), "llama3");
  EXPECT_EQ(ChatTemplate::detect(read_file(t + "qwen2/tokenizer_config.json"))->name(), "chatml");
  EXPECT_EQ(ChatTemplate::detect_name(read_file(t + "llama3/chat_template.Llama-3.1-8B-Instruct.jinja")), "llama3.1");
  EXPECT_EQ(ChatTemplate::detect_name(read_file(t + "mistral-v0.3/chat_template.v3_spm.jinja")), "mistral");
  EXPECT_EQ(ChatTemplate::detect("{}"), nullptr);
  EXPECT_EQ(ChatTemplate::detect_name("{{ messages }}"), "");
  EXPECT_THROW(ChatTemplate::detect("{\"chat_template\": "), FormatError);
}

// The C++ templates against Jinja2 renders of the real template files.
TEST(ChatTemplate, MatchesJinjaRendersOfTheRealTemplates) {
  T2_REQUIRE_DATA(dir);
  // Debian's python3 with python3-jinja2, else a python3 on PATH that has Jinja2.
  std::string py;
  for (std::string cand : {test::python3(), std::string("python3")})
    if (py.empty() && run_subprocess({cand, "-c", "import jinja2"}).ok()) py = cand;
  if (py.empty()) GTEST_SKIP() << "no python3 with jinja2 (Debian: python3-jinja2): reference renders skipped";
  std::string t = dir + "/tokenizers/";
  struct Tmpl {
    std::string name, file;
    bool config_key;
    std::string bos, eos;
  };
  std::vector<Tmpl> templates = {
      {"llama3", t + "llama3/tokenizer_config.json", true, "<|begin_of_text|>", "<|end_of_text|>"},
      {"llama3.1", t + "llama3/chat_template.Llama-3.1-8B-Instruct.jinja", false, "<|begin_of_text|>", ""},
      {"chatml", t + "qwen2/tokenizer_config.json", true, "", "<|im_end|>"},
      {"mistral", t + "mistral-v0.3/chat_template.v3_spm.jinja", false, "<s>", "</s>"},
      {"code_prompt", "CODE_PROMPT", false, "", ""},
  };
  std::vector<std::vector<ChatMessage>> chats = {
      {{"user", "What is 2+2?"}},
      {{"system", kGsmSystem}, {"user", "Natalia sold clips to 48 of her friends in April.\n"}},
      {{"system", "  Be brief.\n"}, {"user", " Hi "}, {"assistant", "Hello! "}, {"user", "Bye\n"}},
      {{"user", "caf\xC3\xA9 \xF0\x9F\xA6\x99"}, {"assistant", "Sure."}},
  };
  nlohmann::json req = {{"cases", nlohmann::json::array()}};
  std::vector<std::string> mine;
  for (const auto& tm : templates)
    for (const auto& chat : chats)
      for (bool gen : {true, false}) {
        nlohmann::json msgs = nlohmann::json::array();
        for (const auto& m : chat) msgs.push_back({{"role", m.role}, {"content", m.content}});
        req["cases"].push_back({{"template", tm.file}, {"config_key", tm.config_key}, {"messages", msgs},
                                {"add_generation_prompt", gen}, {"bos_token", tm.bos}, {"eos_token", tm.eos}});
        mine.push_back(tm.name + "\x1f" + ChatTemplate::by_name(tm.name)->render(chat, gen));
      }
  SubprocessOptions o;
  o.stdin_data = req.dump();
  o.timeout = Seconds(60);
  auto r = run_subprocess({py, test::source_dir() + "/tests/workers/tokenizers/render-jinja.py"}, o);
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  auto ref = nlohmann::json::parse(r.out);
  ASSERT_EQ(ref.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    std::string name = mine[i].substr(0, mine[i].find('\x1f')), text = mine[i].substr(mine[i].find('\x1f') + 1);
    ASSERT_TRUE(ref[i].is_string()) << name << " case " << i << ": " << ref[i].dump();
    EXPECT_EQ(text, ref[i].get<std::string>()) << name << " case " << i;
  }
}

TEST(ChatTemplate, EncodeChatHasExactlyOneBos) {
  T2_REQUIRE_DATA(dir);
  std::string llama = test::make_hf_model_dir(dir, "llama3", "strings");
  auto tok = Tokenizer::load(llama);
  test::remove_tree(llama);
  std::vector<ChatMessage> m = {{"system", kGsmSystem}, {"user", "What is 2+2?"}};
  for (const char* name : {"llama3", "llama3_cot", "llama3.1", "code_prompt"}) {
    auto ids = encode_chat(*tok, *ChatTemplate::by_name(name), m);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 128000) << name;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 128000), 1) << name;
  }
  auto ids = encode_chat(*tok, *ChatTemplate::for_tokenizer(*tok), m);
  EXPECT_EQ(tok->token_text(ids[1]), "<|start_header_id|>");
  EXPECT_EQ(tok->token_text(ids.back()), "ĊĊ");  // "\n\n" after the assistant header

  std::string qwen = test::make_hf_model_dir(dir, "qwen2", "pairs");
  auto q = Tokenizer::load(qwen);
  test::remove_tree(qwen);
  auto qi = encode_chat(*q, *ChatTemplate::for_tokenizer(*q), m);
  EXPECT_EQ(qi[0], 151644);  // <|im_start|>: Qwen has no BOS
}

}  // namespace
}  // namespace t2
