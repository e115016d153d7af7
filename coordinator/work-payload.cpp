#include "coordinator/work-payload.h"

#include <cstring>

#include "core/check.h"
#include "core/error.h"

namespace t2 {

Payload& Payload::floats(const std::string& name, const std::vector<float>& v) {
  blobs.add_floats(name, v);
  return *this;
}

Payload& Payload::ints(const std::string& name, const std::vector<int64_t>& v) {
  blobs.add_blob(name, v.data(), v.size(), DType::i64);
  return *this;
}

Payload& Payload::sequences(const std::string& name, const std::vector<std::vector<int32_t>>& seqs) {
  std::vector<int32_t> flat;
  std::vector<int64_t> lengths;
  for (const auto& s : seqs) {
    flat.insert(flat.end(), s.begin(), s.end());
    lengths.push_back(static_cast<int64_t>(s.size()));
  }
  blobs.add_blob(name, flat.data(), flat.size(), DType::i32);
  return ints(name + ".lengths", lengths);
}

std::vector<float> Payload::floats(const std::string& name) const { return blobs.floats(name); }

std::vector<int64_t> Payload::ints(const std::string& name) const {
  const Blob& b = blobs.blob(name);
  T2_CHECK_AS(FormatError, b.dtype == DType::i64, "payload blob '{}' is {}; expected i64", name, dtype_name(b.dtype));
  std::vector<int64_t> v(b.count);
  if (b.count) std::memcpy(v.data(), b.bytes.data(), b.count * sizeof(int64_t));
  return v;
}

std::vector<std::vector<int32_t>> Payload::sequences(const std::string& name) const {
  const Blob& b = blobs.blob(name);
  T2_CHECK_AS(FormatError, b.dtype == DType::i32, "payload blob '{}' is {}; expected i32", name, dtype_name(b.dtype));
  auto lengths = ints(name + ".lengths");
  std::vector<std::vector<int32_t>> out;
  size_t at = 0;
  const auto* data = reinterpret_cast<const int32_t*>(b.bytes.data());
  for (int64_t n : lengths) {
    T2_CHECK_AS(FormatError, n >= 0 && at + size_t(n) <= b.count, "payload blob '{}': lengths run past its {} ids", name,
                b.count);
    out.emplace_back(data + at, data + at + n);
    at += size_t(n);
  }
  return out;
}

std::string pack_payload(const Payload& p) {
  Message m = p.blobs;
  m.type = MessageType::request;
  m.meta = p.meta.dump();
  auto bytes = encode_message(m);
  return std::string(bytes.begin(), bytes.end());
}

Payload unpack_payload(const std::string& bytes, const std::string& what) {
  Payload p;
  p.blobs = decode_message(bytes.data(), bytes.size(), what);
  try {
    p.meta = nlohmann::json::parse(p.blobs.meta);
  } catch (const std::exception& e) {
    throw FormatError(what + ": payload metadata is not JSON: " + e.what());
  }
  return p;
}

}  // namespace t2
