// Exact ids on the llama.cpp test vectors (ids made by HF tokenizers) through every loader: Llama 3
// tokenizer.json (merges as strings), Llama 3 tiktoken tokenizer.model, Qwen2 tokenizer.json (merges
// as pairs); decode round-trips every case.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "tests/support/test-support.h"
#include "tests/workers/tokenizers/tokenizer-test-util.h"
#include "workers/tokenizer.h"

namespace t2 {
namespace {

std::string show(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (auto i : ids) s << ' ' << i;
  return s.str();
}

// Each case is checked; returns how many matched exactly.
int check_vectors(const Tokenizer& tok, const std::vector<test::TokenizerVector>& vectors) {
  int exact = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    const auto& v = vectors[i];
    auto ids = tok.encode(v.text);
    EXPECT_EQ(show(ids), show(v.ids)) << "case " << i << ": '" << v.text << "'";
    exact += ids == v.ids;
    EXPECT_EQ(tok.decode(ids), v.text) << "round trip, case " << i;
  }
  return exact;
}

// The assembled tokenizer.json folders, built on first use (ctest runs each case in its own process).
class TokenizerVectors : public ::testing::Test {
 protected:
  static const std::string& llama_dir() { return folder(llama_dir_, "llama3", "strings"); }
  static const std::string& qwen_dir() { return folder(qwen_dir_, "qwen2", "pairs"); }
  static void TearDownTestSuite() {
    for (auto* p : {llama_dir_, qwen_dir_})
      if (p) test::remove_tree(*p);
    delete llama_dir_;
    delete qwen_dir_;
    llama_dir_ = qwen_dir_ = nullptr;
  }

 private:
  static const std::string& folder(std::string*& slot, const char* family, const char* form) {
    if (!slot) slot = new std::string(test::make_hf_model_dir(*test::data_dir(), family, form));
    return *slot;
  }
  static std::string* llama_dir_;
  static std::string* qwen_dir_;
};
std::string* TokenizerVectors::llama_dir_ = nullptr;
std::string* TokenizerVectors::qwen_dir_ = nullptr;

TEST_F(TokenizerVectors, Llama3TokenizerJsonMatchesAll46) {
  T2_REQUIRE_DATA(dir);
  auto vectors = test::read_tokenizer_vectors(dir + "/tokenizers/llama3/testvec/ggml-vocab-llama-bpe.gguf");
  ASSERT_EQ(vectors.size(), 46u);
  auto tok = Tokenizer::load(llama_dir());
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), 128256);
  EXPECT_EQ(check_vectors(*tok, vectors), 46);
  EXPECT_EQ(tok->bos_id(), 128000);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{128001});  // this tokenizer_config.json says <|end_of_text|>
  EXPECT_EQ(tok->token_id("<|eot_id|>"), 128009);
  EXPECT_EQ(tok->token_text(128006), "<|start_header_id|>");
}

TEST_F(TokenizerVectors, Llama3TiktokenMatchesAll46) {
  T2_REQUIRE_DATA(dir);
  auto vectors = test::read_tokenizer_vectors(dir + "/tokenizers/llama3/testvec/ggml-vocab-llama-bpe.gguf");
  ASSERT_EQ(vectors.size(), 46u);
  // The folder as Meta ships it: tokenizer.model without any HF config; specials get Llama 3.1 names.
  auto tok = Tokenizer::load(dir + "/tokenizers/llama3/tokenizer.model");
  EXPECT_EQ(tok->kind(), "tiktoken");  // a file path: its folder's tokenizer_config.json names the specials
  EXPECT_EQ(tok->token_text(128004), "<|reserved_special_token_2|>");  // Llama 3.0 name from the config
  std::string only = test::make_temp_dir("tok-tiktoken");
  std::filesystem::create_symlink(dir + "/tokenizers/llama3/tokenizer.model", only + "/tokenizer.model");
  auto tt = Tokenizer::load(only);
  test::remove_tree(only);
  EXPECT_EQ(tt->kind(), "tiktoken");
  EXPECT_EQ(tt->vocab_size(), 128256);
  EXPECT_EQ(check_vectors(*tt, vectors), 46);
  EXPECT_EQ(tt->bos_id(), 128000);
  EXPECT_EQ(tt->eos_ids(), (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(tt->token_id("<|start_header_id|>"), 128006);
  EXPECT_EQ(tt->token_id("<|python_tag|>"), 128010);
  EXPECT_EQ(tt->token_text(128004), "<|finetune_right_pad_id|>");
  EXPECT_EQ(tt->token_text(1917), "Ġworld");
}

TEST_F(TokenizerVectors, TiktokenAndTokenizerJsonAgreeOnGsm8k) {
  T2_REQUIRE_DATA(dir);
  std::string only = test::make_temp_dir("tok-tiktoken");
  std::filesystem::create_symlink(dir + "/tokenizers/llama3/tokenizer.model", only + "/tokenizer.model");
  auto tt = Tokenizer::load(only);
  test::remove_tree(only);
  auto hf = Tokenizer::load(llama_dir());
  std::istringstream lines(read_file(dir + "/data/gsm8k/test.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line) && n < 200) {
    auto q = nlohmann::json::parse(line)["question"].get<std::string>();
    ASSERT_EQ(tt->encode(q), hf->encode(q)) << q;
    ++n;
  }
  EXPECT_EQ(n, 200);
}

TEST_F(TokenizerVectors, Qwen2TokenizerJsonMatchesAll46) {
  T2_REQUIRE_DATA(dir);
  auto vectors = test::read_tokenizer_vectors(dir + "/tokenizers/qwen2/testvec/ggml-vocab-qwen2.gguf");
  ASSERT_EQ(vectors.size(), 46u);
  auto tok = Tokenizer::load(qwen_dir());
  EXPECT_EQ(tok->vocab_size(), 151665);
  EXPECT_EQ(check_vectors(*tok, vectors), 46);
  EXPECT_FALSE(tok->bos_id().has_value());  // Qwen2 has no BOS
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{151645});  // <|im_end|>
  EXPECT_EQ(tok->encode("<|im_start|>user\nhi<|im_end|>"),
            (std::vector<int32_t>{151644, tok->encode("user\nhi")[0], tok->encode("user\nhi")[1],
                                  tok->encode("user\nhi")[2], 151645}));
}

TEST_F(TokenizerVectors, Qwen2NormalisesToNfc) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(qwen_dir());
  // "é" written as e + combining acute must tokenize as the precomposed U+00E9.
  EXPECT_EQ(tok->encode("caf\x65\xCC\x81"), tok->encode("caf\xC3\xA9"));
  auto llama = Tokenizer::load(llama_dir());  // Llama 3 has no normalizer: the two differ
  EXPECT_NE(llama->encode("caf\x65\xCC\x81"), llama->encode("caf\xC3\xA9"));
}

TEST_F(TokenizerVectors, SpecialTokensOnlyWhenAllowed) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(llama_dir());
  auto with = tok->encode("<|eot_id|>hi");
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with[0], 128009);
  auto without = tok->encode("<|eot_id|>hi", /*allow_special=*/false);
  EXPECT_GT(without.size(), 3u);
  for (auto id : without) EXPECT_LT(id, 128000);
  EXPECT_EQ(tok->decode(without), "<|eot_id|>hi");
  EXPECT_EQ(tok->decode(with, /*skip_special=*/true), "hi");
}

TEST_F(TokenizerVectors, Gsm8kTestSetEncodesFast) {
  T2_REQUIRE_DATA(dir);
  auto tok = Tokenizer::load(llama_dir());
  std::vector<std::string> questions;
  std::istringstream lines(read_file(dir + "/data/gsm8k/test.jsonl"));
  std::string line;
  while (std::getline(lines, line)) questions.push_back(nlohmann::json::parse(line)["question"].get<std::string>());
  ASSERT_EQ(questions.size(), 1319u);
  // CPU time of this thread: the test machine is shared, wall time would measure the neighbours.
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  };
  double t0 = cpu();
  size_t total = 0;
  for (const auto& q : questions) total += tok->encode(q).size();
  double s = cpu() - t0;
  std::cout << "GSM8K test: 1319 questions, " << total << " tokens in " << s << " s CPU\n";
  EXPECT_LT(s, 1.0);
  for (const auto& q : questions) ASSERT_EQ(tok->decode(tok->encode(q)), q);
}

}  // namespace
}  // namespace t2
