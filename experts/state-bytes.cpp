#include "experts/state-bytes.h"

#include <cstring>

#include "core/check.h"

namespace t2 {

// Host order is written as is: every supported platform (x86-64, aarch64) is little-endian.
static_assert(sizeof(double) == 8 && sizeof(float) == 4, "IEEE-754 sizes expected");

void ByteWriter::u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), 8); }
void ByteWriter::f64(double v) { out_.append(reinterpret_cast<const char*>(&v), 8); }
void ByteWriter::str(std::string_view s) {
  u64(s.size());
  out_.append(s.data(), s.size());
}
void ByteWriter::f32s(const std::vector<float>& v) {
  u64(v.size());
  out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}
void ByteWriter::f64s(const std::vector<double>& v) {
  u64(v.size());
  out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}
void ByteWriter::i64s(const std::vector<int64_t>& v) {
  u64(v.size());
  out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t));
}
void ByteWriter::strs(const std::vector<std::string>& v) {
  u64(v.size());
  for (auto& s : v) str(s);
}

void ByteReader::need(size_t n, const char* field) {
  T2_CHECK_AS(FormatError, n <= data_.size() - pos_,
              "{}: {} needs {} bytes at byte offset {} but only {} remain (truncated or not this format)", what_,
              field, n, pos_, data_.size() - pos_);
}

uint64_t ByteReader::u64() {
  need(8, "an integer");
  uint64_t v;
  std::memcpy(&v, data_.data() + pos_, 8);
  pos_ += 8;
  return v;
}

double ByteReader::f64() {
  need(8, "a float64");
  double v;
  std::memcpy(&v, data_.data() + pos_, 8);
  pos_ += 8;
  return v;
}

std::string ByteReader::str() {
  auto n = u64();
  need(n, "a string");
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}

template <typename T>
static std::vector<T> read_array(ByteReader& r, std::string_view data, size_t& pos, uint64_t n,
                                 const std::string& what) {
  T2_CHECK_AS(FormatError, n <= (data.size() - pos) / sizeof(T),
              "{}: an array of {} elements at byte offset {} runs past the end ({} bytes remain)", what, n, pos,
              data.size() - pos);
  std::vector<T> v(n);
  if (n) std::memcpy(v.data(), data.data() + pos, n * sizeof(T));
  pos += n * sizeof(T);
  return v;
}

std::vector<float> ByteReader::f32s() { auto n = u64(); return read_array<float>(*this, data_, pos_, n, what_); }
std::vector<double> ByteReader::f64s() { auto n = u64(); return read_array<double>(*this, data_, pos_, n, what_); }
std::vector<int64_t> ByteReader::i64s() { auto n = u64(); return read_array<int64_t>(*this, data_, pos_, n, what_); }

std::vector<std::string> ByteReader::strs() {
  auto n = u64();
  T2_CHECK_AS(FormatError, n <= data_.size() - pos_, "{}: a list of {} strings at byte offset {} cannot fit", what_, n, pos_);
  std::vector<std::string> v;
  v.reserve(n);
  for (uint64_t i = 0; i < n; ++i) v.push_back(str());
  return v;
}

void ByteReader::expect_tag(uint64_t tag, const char* kind) {
  auto at = pos_;
  auto got = u64();
  T2_CHECK_AS(FormatError, got == tag, "{}: not a {} buffer (tag {:#x} at byte offset {}, expected {:#x})", what_, kind,
              got, at, tag);
}

void ByteReader::expect_end() const {
  T2_CHECK_AS(FormatError, pos_ == data_.size(), "{}: {} unexpected trailing bytes after byte offset {}", what_,
              data_.size() - pos_, pos_);
}

}  // namespace t2
