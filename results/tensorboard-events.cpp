#include "results/tensorboard-events.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "results/tfrecord.h"

namespace fs = std::filesystem;

namespace t2::results {

namespace {

// Protobuf wire format: varint (0), 64-bit (1), length-delimited (2), 32-bit (5).
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (field << 3) | wire); }
void put_fixed(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void put_double(std::string& out, uint32_t field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  put_tag(out, field, 1);
  put_fixed(out, bits, 8);
}
void put_float(std::string& out, uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  put_tag(out, field, 5);
  put_fixed(out, bits, 4);
}
void put_bytes(std::string& out, uint32_t field, std::string_view b) {
  put_tag(out, field, 2);
  put_varint(out, b.size());
  out.append(b);
}

std::string event_head(double wall_time, int64_t step) {
  std::string e;
  put_double(e, 1, wall_time);
  if (step != 0) {
    put_tag(e, 2, 0);
    put_varint(e, static_cast<uint64_t>(step));  // int64: two's complement, 10 bytes when negative
  }
  return e;
}

struct Cursor {
  std::string_view b;
  size_t at = 0;
  bool done() const { return at >= b.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      T2_CHECK_AS(FormatError, at < b.size(), "event: varint past the end at byte {}", at);
      const uint8_t c = static_cast<uint8_t>(b[at++]);
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    throw FormatError(fmt::format("event: varint longer than 10 bytes at byte {}", at));
  }
  uint64_t fixed(int n) {
    T2_CHECK_AS(FormatError, b.size() - at >= static_cast<size_t>(n), "event: fixed{} past the end at byte {}", 8 * n,
                at);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
    at += static_cast<size_t>(n);
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    T2_CHECK_AS(FormatError, n <= b.size() - at, "event: a field of {} bytes past the end at byte {}", n, at);
    auto s = b.substr(at, n);
    at += n;
    return s;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: fixed(8); break;
      case 2: bytes(); break;
      case 5: fixed(4); break;
      default: throw FormatError(fmt::format("event: wire type {} at byte {}", wire, at));
    }
  }
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char h[256] = {0};
  gethostname(h, sizeof h - 1);
  std::string s = h;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return s.empty() ? "localhost" : s;
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_float(v, 2, static_cast<float>(value));
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

DecodedEvent decode_event(std::string_view bytes) {
  DecodedEvent ev;
  Cursor c{bytes};
  while (!c.done()) {
    const uint64_t key = c.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), wire = static_cast<uint32_t>(key & 7);
    if (field == 1 && wire == 1) {
      const uint64_t bits = c.fixed(8);
      std::memcpy(&ev.wall_time, &bits, 8);
    } else if (field == 2 && wire == 0) {
      ev.step = static_cast<int64_t>(c.varint());
    } else if (field == 3 && wire == 2) {
      ev.file_version = std::string(c.bytes());
    } else if (field == 5 && wire == 2) {
      Cursor s{c.bytes()};
      while (!s.done()) {
        const uint64_t sk = s.varint();
        if (sk != ((1u << 3) | 2)) {
          s.skip(static_cast<uint32_t>(sk & 7));
          continue;
        }
        Cursor v{s.bytes()};
        std::string tag;
        float value = std::nanf("");
        bool simple = false;
        while (!v.done()) {
          const uint64_t vk = v.varint();
          if (vk == ((1u << 3) | 2)) {
            tag = std::string(v.bytes());
          } else if (vk == ((2u << 3) | 5)) {
            const uint32_t bits = static_cast<uint32_t>(v.fixed(4));
            std::memcpy(&value, &bits, 4);
            simple = true;
          } else {
            v.skip(static_cast<uint32_t>(vk & 7));
          }
        }
        if (simple) ev.scalars.emplace_back(tag, value);
      }
    } else {
      c.skip(wire);
    }
  }
  return ev;
}

bool is_event_file_name(const std::string& name) {
  return name.rfind("events.out.tfevents.", 0) == 0 && name.find(".tmp.") == std::string::npos;
}

TensorboardWriter::TensorboardWriter(const std::string& dir) {
  make_dirs(dir);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_event_file_name(e.path().filename().string())) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  TfRecordScan newest;
  for (const auto& f : files) {
    const std::string bytes = read_file(f);
    TfRecordScan s = tfrecord_scan(bytes);
    for (const auto& r : s.records) {
      DecodedEvent ev;
      try {
        ev = decode_event(r);
      } catch (const FormatError&) {
        continue;  // an event this writer did not write: not ours to judge
      }
      for (const auto& [tag, v] : ev.scalars) {
        auto [it, fresh] = last_step_.emplace(tag, ev.step);
        if (!fresh) it->second = std::max(it->second, ev.step);
      }
    }
    newest = std::move(s);
  }
  if (!files.empty()) {
    // Order by the time in the name (the same width for centuries), then append to the newest.
    path_ = files.back();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    T2_CHECK(fd_ >= 0, "cannot open {}: {}", path_, std::strerror(errno));
    if (newest.torn) T2_CHECK(::ftruncate(fd_, static_cast<off_t>(newest.valid_bytes)) == 0, "cannot cut the torn "
                              "record off {}: {}", path_, std::strerror(errno));
    T2_CHECK(::lseek(fd_, 0, SEEK_END) >= 0, "cannot seek in {}: {}", path_, std::strerror(errno));
    if (newest.valid_bytes > 0) return;
  } else {
    path_ = fmt::format("{}/events.out.tfevents.{:010d}.{}", dir, static_cast<int64_t>(now_seconds()), host_name());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    T2_CHECK(fd_ >= 0, "cannot create {}: {}", path_, std::strerror(errno));
    fsync_path(dir);
  }
  const std::string rec = tfrecord_frame(encode_file_version_event(now_seconds()));
  T2_CHECK(::write(fd_, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size()), "cannot write {}: {}", path_,
           std::strerror(errno));
}

TensorboardWriter::~TensorboardWriter() {
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
  }
}

int64_t TensorboardWriter::last_step(const std::string& tag) const {
  auto it = last_step_.find(tag);
  return it == last_step_.end() ? -1 : it->second;
}

size_t TensorboardWriter::write(int64_t step, const Scalars& scalars) {
  Scalars fresh;
  for (const auto& s : scalars)
    if (std::isfinite(s.second) && last_step(s.first) < step) fresh.push_back(s);
  if (fresh.empty()) return 0;
  const std::string rec = tfrecord_frame(encode_scalars_event(now_seconds(), step, fresh));
  // One write of the whole record: a kill leaves it whole or torn at the end, never interleaved.
  T2_CHECK(::write(fd_, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size()), "cannot write {}: {}", path_,
           std::strerror(errno));
  ::fdatasync(fd_);
  for (const auto& s : fresh) last_step_[s.first] = step;
  return fresh.size();
}

}  // namespace t2::results
