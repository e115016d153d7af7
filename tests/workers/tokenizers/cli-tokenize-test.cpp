// `t2 tokenize` end to end through the built binary: ids against the reference vectors, JSON output,
// decode, chat encoding, and exit code 2 with a clear message for bad folders and bad ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "tests/support/test-support.h"
#include "tests/workers/tokenizers/tokenizer-test-util.h"

namespace t2 {
namespace {

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "\n";
}

TEST(CliTokenize, TiktokenFolderMatchesTheVectors) {
  T2_REQUIRE_DATA(dir);
  auto vectors = test::read_tokenizer_vectors(dir + "/tokenizers/llama3/testvec/ggml-vocab-llama-bpe.gguf");
  std::string only = test::make_temp_dir("cli-tok");
  std::filesystem::create_symlink(dir + "/tokenizers/llama3/tokenizer.model", only + "/tokenizer.model");
  for (size_t i : {11u, 18u, 32u}) {  // "Hello world", " this is 🦙.cpp", a mixed-script line
    auto r = test::run_t2({"tokenize", only, "--text", vectors[i].text});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ids_line(vectors[i].ids)) << "case " << i;
  }
  // --file gives the same ids as --text, the file content taken byte for byte.
  write_file_atomic(only + "/prompt.txt", vectors[45].text);
  auto r = test::run_t2({"tokenize", only, "--file", only + "/prompt.txt"});
  EXPECT_EQ(r.out, ids_line(vectors[45].ids)) << r.err;
  // Without any config, Meta's file gets the Llama 3 dialog format.
  r = test::run_t2({"tokenize", only, "--text", "hi", "--chat", "auto", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["chat_template"], "llama3");
  test::remove_tree(only);
}

TEST(CliTokenize, JsonAndDecodeOnMistral) {
  T2_REQUIRE_DATA(dir);
  std::string m = dir + "/tokenizers/mistral-v0.3";
  auto expected = nlohmann::json::parse(read_file(m + "/samples/no_tools__tokens_v3.json"))["tokens"];
  auto r = test::run_t2({"tokenize", m, "--text", "What's the result of 5 + 5?", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "sentencepiece");
  std::vector<int32_t> turn(expected.begin() + 2, expected.begin() + 14);
  EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), turn);
  EXPECT_EQ(j["count"], turn.size());
  EXPECT_EQ(j["tokens"][0], "\xE2\x96\x81What");

  // The whole reference sample decodes to its rendered prompt (text_v3.txt with ▁ as spaces).
  std::string list;
  for (size_t i = 0; i < expected.size(); ++i) list += (i ? "," : "") + std::to_string(expected[i].get<int>());
  r = test::run_t2({"tokenize", m, "--decode", list});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 37), "<s>[INST] What's the result of 5 + 5?");
  r = test::run_t2({"tokenize", m, "--decode", list, "--skip-special", "--json"});
  auto d = nlohmann::json::parse(r.out);
  EXPECT_EQ(d["text"].get<std::string>().substr(0, 27), "What's the result of 5 + 5?");
}

TEST(CliTokenize, ChatAutoHasOneBos) {
  T2_REQUIRE_DATA(dir);
  std::string llama = test::make_hf_model_dir(dir, "llama3", "pairs");
  auto r = test::run_t2({"tokenize", llama, "--text", "What is 2+2?", "--chat", "auto", "--json"});
  test::remove_tree(llama);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["chat_template"], "llama3");
  auto ids = j["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128000), 1);
  EXPECT_EQ(j["tokens"][1], "<|start_header_id|>");
}

TEST(CliTokenize, ClearErrorsExitTwo) {
  T2_REQUIRE_DATA(dir);
  std::string empty = test::make_temp_dir("cli-tok-empty");
  auto r = test::run_t2({"tokenize", empty, "--text", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no tokenizer found"), std::string::npos) << r.err;
  test::remove_tree(empty);

  std::string m = dir + "/tokenizers/mistral-v0.3";
  r = test::run_t2({"tokenize", m, "--decode", "1,x,3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("item 2 'x'"), std::string::npos) << r.err;
  r = test::run_t2({"tokenize", m, "--decode", "5,40000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("token id 40000 (position 1) is outside the vocabulary [0, 32768)"), std::string::npos) << r.err;
  r = test::run_t2({"tokenize", m});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("exactly one of --text, --file or --decode"), std::string::npos) << r.err;
  r = test::run_t2({"tokenize", m, "--file", "/nonexistent/prompt.txt"});
  EXPECT_EQ(r.exit_code, 2);
  r = test::run_t2({"tokenize", m, "--text", "hi", "--chat", "llama_3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'llama3'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace t2
