// Safetensors reading (values of every dtype, sharded index, lazy slices) and every corrupt-file case,
// plus config.json parsing for each family and its refusals. Torch-free.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/files.h"
#include "tests/support/test-support.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model-config.h"
#include "workers/safetensors.h"

namespace t2 {
namespace {

using nlohmann::json;

std::string header_file(const std::string& header_json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header_json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header_json + data;
}

// Expects a FormatError whose message contains every fragment.
void expect_format_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    SafetensorsFile f(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    for (const auto& f : fragments) EXPECT_NE(m.find(f), std::string::npos) << "missing '" << f << "' in: " << m;
  }
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("t2-safetensors"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    std::string p = dir_ + "/" + name;
    write_file_atomic(p, bytes);
    return p;
  }
  std::string dir_;
};

TEST_F(SafetensorsTest, ReadsF32F16Bf16AndSlices) {
  // values exactly representable in all three dtypes
  std::vector<float> vals = {1.0f, -2.5f, 0.375f, 1024.0f, -0.0078125f, 3.0f};
  std::string f32(reinterpret_cast<const char*>(vals.data()), 24), f16, bf16;
  for (float v : vals) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    uint16_t b = static_cast<uint16_t>(u >> 16);
    bf16.append(reinterpret_cast<const char*>(&b), 2);
    // f16 by hand: sign, exponent rebias, top 10 mantissa bits (all values are normal in f16)
    uint16_t h = static_cast<uint16_t>(((u >> 16) & 0x8000u) | ((((u >> 23) & 0xff) - 127 + 15) << 10) | ((u >> 13) & 0x3ffu));
    f16.append(reinterpret_cast<const char*>(&h), 2);
  }
  json h = {{"a", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
            {"b", {{"dtype", "F16"}, {"shape", {2, 3}}, {"data_offsets", {24, 36}}}},
            {"c", {{"dtype", "BF16"}, {"shape", {6}}, {"data_offsets", {36, 48}}}},
            {"__metadata__", {{"format", "pt"}}}};
  auto p = write("ok.safetensors", header_file(h.dump(), f32 + f16 + bf16));
  Checkpoint ck = Checkpoint::open_file(p);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ck.read_f32("a"), vals);
  EXPECT_EQ(ck.read_f32("b"), vals);
  EXPECT_EQ(ck.read_f32("c"), vals);
  EXPECT_EQ(ck.read_f32("b", 1, 1, 1, 2), (std::vector<float>{-0.0078125f, 3.0f}));
  EXPECT_EQ(ck.info("b").dtype, TensorDType::f16);
  EXPECT_EQ(ck.file_of("a").metadata().at("format"), "pt");
  try {
    ck.info("bb");
    ADD_FAILURE();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor 'bb'"), std::string::npos);
  }
}

TEST_F(SafetensorsTest, EveryCorruptionIsNamedWithItsOffset) {
  std::string data(32, '\0');
  auto entry = [](const std::string& dt, std::vector<int64_t> shape, uint64_t b, uint64_t e) {
    return json{{"dtype", dt}, {"shape", shape}, {"data_offsets", {b, e}}};
  };
  expect_format_error(write("short.safetensors", "abc"), {"truncated", "3 bytes"});
  expect_format_error(write("hlen.safetensors", header_file("{}", "").substr(0, 8) + "{"),
                      {"header length 2", "past the end"});
  {
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(0xff);
    bytes[5] = 1;
    expect_format_error(write("huge.safetensors", bytes + "{}"), {"runs past the end"});
  }
  expect_format_error(write("json.safetensors", header_file("{\"a\": {\"dtype\": ", data)),
                      {"malformed header JSON", "byte offset"});
  expect_format_error(write("dtype.safetensors", header_file(json{{"w", entry("I8", {4}, 0, 4)}}.dump(), data)),
                      {"unknown dtype 'I8'", "'w'"});
  expect_format_error(write("size.safetensors", header_file(json{{"w", entry("F32", {3}, 0, 16)}}.dump(), data)),
                      {"shape [3]", "needs 12 bytes", "span 16"});
  expect_format_error(write("range.safetensors", header_file(json{{"w", entry("F32", {4}, 24, 40)}}.dump(), data)),
                      {"out of range", "'w'", "32 bytes"});
  {
    json h = {{"w", entry("F32", {4}, 0, 16)}, {"x", entry("F32", {4}, 8, 24)}};
    auto hs = h.dump();
    expect_format_error(write("overlap.safetensors", header_file(hs, data)),
                        {"overlap", "'w'", "'x'", "byte offset " + std::to_string(8 + hs.size() + 8)});
  }
}

TEST_F(SafetensorsTest, ShardedIndexAndMissingNames) {
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
  write_safetensors_f32(dir_ + "/s1.safetensors", {{"a", {{2, 2}, a}}});
  write_safetensors_f32(dir_ + "/s2.safetensors", {{"b", {{2}, b}}});
  write(std::string("model.safetensors.index.json"),
        json{{"weight_map", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}}}.dump());
  Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_EQ(ck.read_f32("a", 1, 1), (std::vector<float>{3, 4}));
  EXPECT_EQ(ck.read_f32("b"), b);
  EXPECT_THROW(ck.expect_shape("a", {4}), FormatError);
  // the index names a tensor that its shard lacks
  write("model.safetensors.index.json", json{{"weight_map", {{"a", "s1.safetensors"}, {"c", "s2.safetensors"}}}}.dump());
  try {
    Checkpoint::open(dir_);
    ADD_FAILURE();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'c' in shard 's2.safetensors'"), std::string::npos) << e.what();
  }
  // the index names a shard that does not exist
  write("model.safetensors.index.json", json{{"weight_map", {{"a", "s9.safetensors"}}}}.dump());
  EXPECT_THROW(Checkpoint::open(dir_), FormatError);
  // no checkpoint at all
  EXPECT_THROW(Checkpoint::open(dir_ + "/nowhere"), UsageError);
}

TEST(ModelConfigTest, FamiliesParseAndDerivedNumbersMatchTheFixture) {
  for (const char* fam : {"llama", "llama3", "mistral", "qwen2"}) {
    std::string dir = test::make_fixture(std::string("cfg-") + fam, {"--family", fam, "--heads", "4", "--kv-heads", "2"});
    ModelConfig c = load_model_config(dir);
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.num_key_value_heads, 2);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.qkv_bias, std::string(fam) == "qwen2");
    EXPECT_EQ(c.rope_scaling.type, std::string(fam) == "llama3" ? "llama3" : "");
    // parameter count equals the elements stored in the checkpoint
    Checkpoint ck = Checkpoint::open(dir);
    int64_t n = 0;
    for (const auto& name : ck.names()) n += ck.info(name).numel();
    EXPECT_EQ(c.parameter_count(), n) << fam;
  }
}

TEST(ModelConfigTest, Llama3RopeScalingFollowsTheRule) {
  // Llama 3.1 8B: theta 500000, head_dim 128, factor 8, low 1, high 4, original 8192.
  json j = {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 4096}, {"num_hidden_layers", 32},
            {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"intermediate_size", 14336},
            {"vocab_size", 128256}, {"rope_theta", 500000.0}, {"eos_token_id", {128001, 128009}},
            {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}};
  ModelConfig c = parse_model_config(j.dump(), "config.json");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{128001, 128009}));
  auto f = c.rope_inv_freq();
  ASSERT_EQ(f.size(), 64u);
  const double pi = 3.14159265358979323846;
  for (size_t i = 0; i < f.size(); ++i) {
    double base = std::pow(500000.0, -static_cast<double>(2 * i) / 128.0), wl = 2 * pi / base;
    if (wl < 8192.0 / 4) EXPECT_DOUBLE_EQ(f[i], base);
    else if (wl > 8192.0) EXPECT_DOUBLE_EQ(f[i], base / 8);
    else EXPECT_TRUE(f[i] < base && f[i] > base / 8);
  }
  EXPECT_EQ(c.parameter_count(), 8030261248);  // Llama 3 8B
}

TEST(ModelConfigTest, UnsupportedThingsAreRefusedByName) {
  auto base = json{{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 64}, {"num_hidden_layers", 1},
                   {"num_attention_heads", 4}, {"intermediate_size", 96}, {"vocab_size", 128}};
  auto fails = [&](json j, const std::string& fragment) {
    try {
      parse_model_config(j.dump(), "/m/config.json");
      ADD_FAILURE() << "accepted: " << j.dump();
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("/m/config.json"), std::string::npos);
    }
  };
  auto j = base;
  j["architectures"] = {"GPTNeoXForCausalLM"};
  fails(j, "architecture 'GPTNeoXForCausalLM' is not supported");
  j = base;
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  fails(j, "rope_scaling type 'yarn'");
  j = base;
  j["hidden_act"] = "gelu";
  fails(j, "hidden_act");
  j = base;
  j.erase("vocab_size");
  fails(j, "missing required key 'vocab_size'");
  j = base;
  j["num_key_value_heads"] = 3;
  fails(j, "not a multiple");
  j = base;
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["use_sliding_window"] = true;
  fails(j, "use_sliding_window");
  fails(json::array(), "JSON object");
  try {
    parse_model_config("{\"a\": ", "/m/config.json");
    ADD_FAILURE();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON at byte"), std::string::npos);
  }
}

}  // namespace
}  // namespace t2
