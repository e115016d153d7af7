#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "cluster/control-message.h"
#include "core/error.h"

namespace {

t2::Message sample() {
  t2::Message m;
  m.type = t2::MessageType::request;
  m.request_id = 1234567890123ull;
  m.job_id = "train/llama-8b/gsm8k/seed0";
  m.kind = "generate";
  m.meta = R"({"prompts":[3,4,5]})";
  std::vector<float> z(1001);
  std::iota(z.begin(), z.end(), -500.0f);
  m.add_floats("z", z);
  std::vector<int64_t> ids{1, -2, 1LL << 40};
  m.add_blob("ids", ids.data(), ids.size(), t2::DType::i64);
  m.add_blob("empty", nullptr, 0, t2::DType::bf16);
  return m;
}

std::string format_error_of(const std::vector<char>& buf) {
  try {
    t2::decode_message(buf.data(), buf.size(), "rank 7 of channel 'test'");
  } catch (const t2::FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ControlMessage, RoundTripsEveryField) {
  const t2::Message m = sample();
  const auto buf = t2::encode_message(m);
  EXPECT_EQ(buf.size() % 8, 0u);
  const t2::Message d = t2::decode_message(buf.data(), buf.size(), "test");
  EXPECT_EQ(d.type, m.type);
  EXPECT_EQ(d.request_id, m.request_id);
  EXPECT_EQ(d.job_id, m.job_id);
  EXPECT_EQ(d.kind, m.kind);
  EXPECT_EQ(d.meta, m.meta);
  ASSERT_EQ(d.blobs.size(), 3u);
  EXPECT_EQ(d.floats("z"), m.floats("z"));
  EXPECT_EQ(d.blob("ids").dtype, t2::DType::i64);
  EXPECT_EQ(d.blob("ids").bytes, m.blob("ids").bytes);
  EXPECT_EQ(d.blob("empty").count, 0u);
  EXPECT_EQ(d.blob("empty").dtype, t2::DType::bf16);
}

TEST(ControlMessage, LayoutMatchesTheDocumentedOffsets) {
  t2::Message m;
  m.type = t2::MessageType::reply;
  m.request_id = 9;
  m.job_id = "j";
  m.add_floats("g", {2.5f});
  const auto buf = t2::encode_message(m);
  // 40 header + 8 (job id padded) + 16 blob header + 8 (name padded) + 8 (one float padded)
  ASSERT_EQ(buf.size(), 80u);
  EXPECT_EQ(std::string(buf.data(), 4), "T2MS");
  uint16_t version, type;
  uint64_t total, id;
  std::memcpy(&version, buf.data() + 4, 2);
  std::memcpy(&type, buf.data() + 6, 2);
  std::memcpy(&total, buf.data() + 8, 8);
  std::memcpy(&id, buf.data() + 16, 8);
  EXPECT_EQ(version, t2::kControlMessageVersion);
  EXPECT_EQ(type, 3);
  EXPECT_EQ(total, 80u);
  EXPECT_EQ(id, 9u);
  EXPECT_EQ(buf[40], 'j');
  float g;
  std::memcpy(&g, buf.data() + 72, 4);
  EXPECT_EQ(g, 2.5f);
}

TEST(ControlMessage, VersionMismatchIsAClearError) {
  auto buf = t2::encode_message(sample());
  const uint16_t other = t2::kControlMessageVersion + 1;
  std::memcpy(buf.data() + 4, &other, 2);
  const std::string m = format_error_of(buf);
  EXPECT_NE(m.find("version " + std::to_string(other)), std::string::npos) << m;
  EXPECT_NE(m.find("rank 7"), std::string::npos) << m;
  EXPECT_NE(m.find("same t2 build"), std::string::npos) << m;
}

TEST(ControlMessage, CorruptInputNamesTheByteOffset) {
  auto buf = t2::encode_message(sample());
  auto bad_magic = buf;
  bad_magic[0] = 'X';
  EXPECT_NE(format_error_of(bad_magic).find("not a t2 control message"), std::string::npos);

  auto truncated = buf;
  truncated.resize(buf.size() - 8);
  EXPECT_NE(format_error_of(truncated).find("announces"), std::string::npos);

  // a blob length that runs past the end: patch the first blob's element count
  auto overrun = buf;
  const size_t first_blob = 40 + ((sample().job_id.size() + 8 + sample().meta.size() + 7) & ~size_t(7));
  const uint64_t huge = 1u << 30;
  std::memcpy(overrun.data() + first_blob + 8, &huge, 8);
  const std::string m = format_error_of(overrun);
  EXPECT_NE(m.find("byte"), std::string::npos) << m;
  EXPECT_NE(m.find("'z'"), std::string::npos) << m;

  auto short_header = buf;
  short_header.resize(6);
  EXPECT_NE(format_error_of(short_header).find("runs past the end"), std::string::npos);
}

TEST(ControlMessage, MissingBlobListsTheOnesPresent) {
  try {
    sample().blob("zz");
    FAIL() << "no error";
  } catch (const t2::FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'zz'"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean 'z'"), std::string::npos) << m;
  }
  EXPECT_THROW(sample().floats("ids"), t2::FormatError);  // i64, not f32
}
