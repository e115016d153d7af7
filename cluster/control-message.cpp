#include "cluster/control-message.h"

#include <cstring>

#include <fmt/format.h>

#include "core/check.h"
#include "core/names.h"

namespace t2 {

namespace {

constexpr uint32_t kMagic = 0x534D3254;  // "T2MS" in little-endian byte order
constexpr size_t kHeaderBytes = 40;

size_t pad8(size_t n) { return (n + 7) & ~size_t(7); }

class Writer {
 public:
  explicit Writer(size_t total) : buf_(total, '\0') {}
  template <typename T>
  void put(T v) {
    std::memcpy(buf_.data() + pos_, &v, sizeof v);
    pos_ += sizeof v;
  }
  void bytes(const void* p, size_t n) {
    if (n) std::memcpy(buf_.data() + pos_, p, n);
    pos_ += n;
  }
  void align() { pos_ = pad8(pos_); }
  std::vector<char> done() { return std::move(buf_); }

 private:
  std::vector<char> buf_;
  size_t pos_ = 0;
};

class Reader {
 public:
  Reader(const char* p, size_t n, const std::string& origin) : p_(p), n_(n), origin_(origin) {}
  void need(size_t k, const char* what) const {
    T2_CHECK_AS(FormatError, k <= n_ - pos_, "control message from {}: {} of {} bytes at byte offset {} runs past the "
                "end of the {}-byte message", origin_, what, k, pos_, n_);
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string str(size_t k, const char* what) {
    need(k, what);
    std::string s(p_ + pos_, k);
    pos_ += k;
    return s;
  }
  const char* take(size_t k, const char* what) {
    need(k, what);
    const char* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  void align(const char* what) {
    const size_t to = pad8(pos_);
    need(to - pos_, what);
    pos_ = to;
  }
  size_t pos() const { return pos_; }

 private:
  const char* p_;
  size_t n_, pos_ = 0;
  const std::string& origin_;
};

std::string human_bytes(size_t n) {
  if (n >= (1u << 20)) return fmt::format("{:.1f} MB", static_cast<double>(n) / (1u << 20));
  if (n >= (1u << 10)) return fmt::format("{:.1f} kB", static_cast<double>(n) / (1u << 10));
  return fmt::format("{} B", n);
}

}  // namespace

const char* message_type_name(MessageType t) {
  switch (t) {
    case MessageType::hello: return "hello";
    case MessageType::request: return "request";
    case MessageType::reply: return "reply";
    case MessageType::error: return "error";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::shutdown: return "shutdown";
  }
  return "unknown";
}

Message& Message::add_blob(std::string name, const void* data, size_t count, DType dtype) {
  Blob b;
  b.name = std::move(name);
  b.dtype = dtype;
  b.count = count;
  const size_t n = count * dtype_size(dtype);
  b.bytes.resize(n);
  if (n) std::memcpy(b.bytes.data(), data, n);
  blobs.push_back(std::move(b));
  return *this;
}

bool Message::has_blob(const std::string& name) const {
  for (const auto& b : blobs)
    if (b.name == name) return true;
  return false;
}

const Blob& Message::blob(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& b : blobs) {
    if (b.name == name) return b;
    names.push_back(b.name);
  }
  T2_FAIL_AS(FormatError, "{} has no blob '{}' ({})", describe(), name, suggest(name, names));
}

std::vector<float> Message::floats(const std::string& name) const {
  const Blob& b = blob(name);
  T2_CHECK_AS(FormatError, b.dtype == DType::f32, "{}: blob '{}' is {}, expected f32", describe(), name,
              dtype_name(b.dtype));
  std::vector<float> v(b.count);
  if (b.count) std::memcpy(v.data(), b.bytes.data(), b.bytes.size());
  return v;
}

size_t Message::payload_bytes() const {
  size_t n = 0;
  for (const auto& b : blobs) n += b.bytes.size();
  return n;
}

std::string Message::describe() const {
  return fmt::format("{} #{}{}{} ({} blob(s), {})", message_type_name(type), request_id,
                     kind.empty() ? "" : " '" + kind + "'", job_id.empty() ? "" : " for job '" + job_id + "'",
                     blobs.size(), human_bytes(payload_bytes()));
}

std::vector<char> encode_message(const Message& m) {
  size_t total = kHeaderBytes + pad8(m.job_id.size() + m.kind.size() + m.meta.size());
  for (const auto& b : m.blobs) {
    T2_CHECK(b.bytes.size() == b.count * dtype_size(b.dtype), "blob '{}': {} bytes for {} x {}", b.name,
             b.bytes.size(), b.count, dtype_name(b.dtype));
    total += 16 + pad8(b.name.size()) + pad8(b.bytes.size());
  }
  T2_CHECK(m.job_id.size() < UINT32_MAX && m.kind.size() < UINT32_MAX && m.meta.size() < UINT32_MAX &&
               m.blobs.size() < UINT32_MAX,
           "control message too large: {}", m.describe());
  Writer w(total);
  w.put<uint32_t>(kMagic);
  w.put<uint16_t>(kControlMessageVersion);
  w.put<uint16_t>(static_cast<uint16_t>(m.type));
  w.put<uint64_t>(total);
  w.put<uint64_t>(m.request_id);
  w.put<uint32_t>(static_cast<uint32_t>(m.job_id.size()));
  w.put<uint32_t>(static_cast<uint32_t>(m.kind.size()));
  w.put<uint32_t>(static_cast<uint32_t>(m.meta.size()));
  w.put<uint32_t>(static_cast<uint32_t>(m.blobs.size()));
  w.bytes(m.job_id.data(), m.job_id.size());
  w.bytes(m.kind.data(), m.kind.size());
  w.bytes(m.meta.data(), m.meta.size());
  w.align();
  for (const auto& b : m.blobs) {
    w.put<uint32_t>(static_cast<uint32_t>(b.name.size()));
    w.put<uint8_t>(static_cast<uint8_t>(b.dtype));
    w.put<uint8_t>(0);
    w.put<uint16_t>(0);
    w.put<uint64_t>(b.count);
    w.bytes(b.name.data(), b.name.size());
    w.align();
    w.bytes(b.bytes.data(), b.bytes.size());
    w.align();
  }
  return w.done();
}

Message decode_message(const char* data, size_t size, const std::string& origin) {
  Reader r(data, size, origin);
  const auto magic = r.get<uint32_t>("magic");
  T2_CHECK_AS(FormatError, magic == kMagic, "control message from {}: magic 0x{:08x} at byte 0 is not 0x{:08x} "
              "(\"T2MS\"): not a t2 control message", origin, magic, kMagic);
  const auto version = r.get<uint16_t>("version");
  T2_CHECK_AS(FormatError, version == kControlMessageVersion,
              "control message from {}: version {} at byte 4, this t2 speaks version {}: every rank must run the "
              "same t2 build", origin, version, kControlMessageVersion);
  Message m;
  const auto type = r.get<uint16_t>("type");
  T2_CHECK_AS(FormatError, type >= 1 && type <= 6, "control message from {}: unknown message type {} at byte 6",
              origin, type);
  m.type = static_cast<MessageType>(type);
  const auto total = r.get<uint64_t>("total size");
  T2_CHECK_AS(FormatError, total == size, "control message from {}: header at byte 8 announces {} bytes, {} arrived",
              origin, total, size);
  m.request_id = r.get<uint64_t>("request id");
  const auto job_len = r.get<uint32_t>("job id length");
  const auto kind_len = r.get<uint32_t>("kind length");
  const auto meta_len = r.get<uint32_t>("meta length");
  const auto nblobs = r.get<uint32_t>("blob count");
  m.job_id = r.str(job_len, "job id");
  m.kind = r.str(kind_len, "kind");
  m.meta = r.str(meta_len, "meta");
  r.align("padding");
  for (uint32_t i = 0; i < nblobs; ++i) {
    Blob b;
    const auto name_len = r.get<uint32_t>("blob name length");
    const size_t dtype_at = r.pos();
    const auto dtype = r.get<uint8_t>("blob dtype");
    T2_CHECK_AS(FormatError, dtype <= static_cast<uint8_t>(DType::u8),
                "control message from {}: blob {} has unknown dtype {} at byte {}", origin, i, dtype, dtype_at);
    b.dtype = static_cast<DType>(dtype);
    r.take(3, "blob padding");
    b.count = r.get<uint64_t>("blob count");
    b.name = r.str(name_len, "blob name");
    r.align("padding");
    const size_t esz = dtype_size(b.dtype);
    T2_CHECK_AS(FormatError, b.count <= size / esz, "control message from {}: blob '{}' claims {} elements at byte {}, "
                "more than the message holds", origin, b.name, b.count, r.pos());
    const char* p = r.take(b.count * esz, "blob data");
    b.bytes.assign(p, p + b.count * esz);
    r.align("padding");
    m.blobs.push_back(std::move(b));
  }
  T2_CHECK_AS(FormatError, r.pos() == size, "control message from {}: {} trailing bytes after the last blob at byte {}",
              origin, size - r.pos(), r.pos());
  return m;
}

}  // namespace t2
