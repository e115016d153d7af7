// TensorBoard event files: CRC-32C and TFRecord framing against published values, Event encoding
// byte for byte, torn records, and a writer reopened after a kill that appends without repeating a
// step. (tests/ecosystem decodes a real run's files with an independent protobuf reader.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/files.h"
#include "results/tensorboard-events.h"
#include "results/tfrecord.h"
#include "tests/support/test-support.h"

namespace t2::results {
namespace {

std::string only_event_file(const std::string& dir) {
  std::string found;
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (is_event_file_name(e.path().filename().string())) found = e.path().string(), ++n;
  EXPECT_EQ(n, 1) << dir;
  return found;
}

std::vector<DecodedEvent> events_of(const std::string& path, bool* torn = nullptr) {
  const std::string bytes = read_file(path);
  auto scan = tfrecord_scan(bytes);
  if (torn) *torn = scan.torn;
  std::vector<DecodedEvent> out;
  for (const auto& r : scan.records) out.push_back(decode_event(r));
  return out;
}

TEST(TfRecord, Crc32cKnownValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);          // the CRC-32C check value
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  const uint32_t c = crc32c("123456789");
  EXPECT_EQ(masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(TfRecord, FrameScanAndTornTail) {
  std::string file = tfrecord_frame("first") + tfrecord_frame("") + tfrecord_frame(std::string(300, 'x'));
  ASSERT_EQ(file.size(), (12 + 5 + 4) + (12 + 4) + (12 + 300 + 4));
  EXPECT_EQ(file.substr(0, 8), std::string("\x05\0\0\0\0\0\0\0", 8));
  auto s = tfrecord_scan(file);
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.records[0], "first");
  EXPECT_FALSE(s.torn);
  for (size_t cut = 1; cut < 12 + 300 + 4; ++cut) {  // every possible torn last record
    auto t = tfrecord_scan(std::string_view(file).substr(0, file.size() - cut));
    ASSERT_EQ(t.records.size(), 2u) << cut;
    EXPECT_TRUE(t.torn);
    EXPECT_EQ(t.valid_bytes, (12 + 5 + 4) + (12 + 4u));
  }
  std::string bad = file;
  bad[12 + 2] ^= 1;  // a flipped data bit fails the data checksum
  EXPECT_EQ(tfrecord_scan(bad).records.size(), 0u);
}

TEST(TensorboardEvents, EncodingMatchesTheProtoByteForByte) {
  // Event{wall_time: 1.5, step: 3, summary {value {tag: "a", simple_value: 0.5}}}
  const std::string e = encode_scalars_event(1.5, 3, {{"a", 0.5}});
  const std::string want = std::string("\x09\x00\x00\x00\x00\x00\x00\xf8\x3f", 9) + "\x10\x03" +
                           std::string("\x2a\x0a\x0a\x08\x0a\x01" "a" "\x15\x00\x00\x00\x3f", 12);
  EXPECT_EQ(e, want);
  const std::string v = encode_file_version_event(2.0);
  EXPECT_EQ(v, std::string("\x09\x00\x00\x00\x00\x00\x00\x00\x40\x1a\x0d", 11) + "brain.Event:2");
  auto d = decode_event(encode_scalars_event(7.25, 300, {{"train/loss", -1.0 / 3}, {"x", 2}}));
  EXPECT_EQ(d.wall_time, 7.25);
  EXPECT_EQ(d.step, 300);
  ASSERT_EQ(d.scalars.size(), 2u);
  EXPECT_EQ(d.scalars[0].first, "train/loss");
  EXPECT_EQ(d.scalars[0].second, static_cast<float>(-1.0 / 3));
}

TEST(TensorboardEvents, ReopenedWriterCutsTheTornTailAndNeverRepeatsAStep) {
  auto dir = test::make_temp_dir("t2-tb");
  {
    TensorboardWriter w(dir);
    for (int s = 0; s < 5; ++s) EXPECT_EQ(w.write(s, {{"loss", s * 0.5}, {"val", s % 2 ? NAN : s * 1.0}}), s % 2 ? 1u : 2u);
    EXPECT_EQ(w.write(4, {{"loss", 9}}), 0u);  // step 4 is there already
  }
  const std::string path = only_event_file(dir);
  // A kill in the middle of the next record: half of it on disk.
  const std::string torn = tfrecord_frame(encode_scalars_event(1, 5, {{"loss", 2.5}}));
  {
    std::string bytes = read_file(path) + torn.substr(0, torn.size() / 2);
    write_file_atomic(path, bytes);
  }
  bool was_torn = false;
  EXPECT_EQ(events_of(path, &was_torn).size(), 6u);  // file_version + 5 steps: readers skip the tail
  EXPECT_TRUE(was_torn);
  {
    TensorboardWriter w(dir);  // the resumed job recomputes steps 3.. from its checkpoint
    EXPECT_EQ(w.path(), path);
    EXPECT_EQ(w.last_step("loss"), 4);
    EXPECT_EQ(w.last_step("val"), 4);
    for (int s = 3; s < 8; ++s) w.write(s, {{"loss", s * 0.5}, {"val", s * 1.0}});
  }
  auto ev = events_of(path, &was_torn);
  EXPECT_FALSE(was_torn);
  std::map<std::string, std::vector<int64_t>> steps;
  for (const auto& e : ev)
    for (const auto& [tag, v] : e.scalars) {
      steps[tag].push_back(e.step);
      if (tag == "loss") EXPECT_EQ(v, static_cast<float>(e.step * 0.5));
    }
  EXPECT_EQ(ev.front().file_version, "brain.Event:2");
  EXPECT_EQ(steps["loss"], (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(steps["val"], (std::vector<int64_t>{0, 2, 4, 5, 6, 7}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t2::results
