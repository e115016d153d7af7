// Plain byte serialisation for algorithm state (REINFORCE, CEM, experts): fixed-width little-endian
// fields, length-prefixed strings and arrays. The coordinator sends these bytes over MPI and writes
// them into checkpoints; a truncated or foreign buffer is a FormatError naming the byte offset.
// Torch-free (public).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t2 {

class ByteWriter {
 public:
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void str(std::string_view s);
  void f32s(const std::vector<float>& v);
  void f64s(const std::vector<double>& v);
  void i64s(const std::vector<int64_t>& v);
  void strs(const std::vector<std::string>& v);
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  // `what` names the buffer in errors ("reinforce state in ckpt.h5").
  ByteReader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  std::string str();
  std::vector<float> f32s();
  std::vector<double> f64s();
  std::vector<int64_t> i64s();
  std::vector<std::string> strs();
  // A 8-byte tag written by the writer's owner; mismatch = "not a <kind> buffer".
  void expect_tag(uint64_t tag, const char* kind);
  void expect_end() const;
  size_t offset() const { return pos_; }

 private:
  void need(size_t n, const char* field);
  std::string_view data_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace t2
