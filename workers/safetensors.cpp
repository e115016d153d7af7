#include "workers/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"
#include "core/names.h"

namespace t2 {

using nlohmann::json;

size_t tensor_dtype_size(TensorDType t) { return t == TensorDType::f32 ? 4 : 2; }

const char* tensor_dtype_name(TensorDType t) {
  switch (t) {
    case TensorDType::f32: return "F32";
    case TensorDType::f16: return "F16";
    case TensorDType::bf16: return "BF16";
  }
  return "?";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float bf16_to_f32(uint16_t v) {
  uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      u = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  T2_CHECK_ERRNO(fd >= 0, "{}: cannot open safetensors file", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    T2_CHECK_ERRNO(false, "{}: fstat", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    T2_FAIL_AS(FormatError, "{}: truncated file: {} bytes, a safetensors file starts with an 8-byte header length",
               path, size_);
  }
  // Private and writable: pages are shared with the page cache until written, and a write (a weight the
  // model serves in place and an expert then overwrites, Model::set_weight) copies only that page and
  // never reaches the file.
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  T2_CHECK_ERRNO(p != MAP_FAILED, "{}: mmap of {} bytes", path, size_);
  base_ = static_cast<const uint8_t*>(p);
  try {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];  // little endian
    T2_CHECK_AS(FormatError, n <= size_ - 8,
                "{}: header length {} (bytes 0..7) runs past the end of the file ({} bytes): truncated or not "
                "a safetensors file", path, n, size_);
    const char* h = reinterpret_cast<const char*>(base_ + 8);
    json j;
    try {
      j = json::parse(h, h + n);
    } catch (const json::parse_error& e) {
      T2_FAIL_AS(FormatError, "{}: malformed header JSON at byte offset {}: {}", path, 8 + e.byte - 1, e.what());
    }
    T2_CHECK_AS(FormatError, j.is_object(), "{}: header (byte offset 8) must be a JSON object", path);
    const uint64_t data_start = 8 + n;
    const uint64_t data_size = size_ - data_start;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") {
        if (it->is_object())
          for (auto m = it->begin(); m != it->end(); ++m)
            if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
        continue;
      }
      const json& t = *it;
      T2_CHECK_AS(FormatError, t.is_object() && t.contains("dtype") && t.contains("shape") && t.contains("data_offsets"),
                  "{}: header entry '{}' must be an object with dtype, shape and data_offsets", path, name);
      TensorInfo info;
      info.name = name;
      T2_CHECK_AS(FormatError, t["dtype"].is_string(), "{}: tensor '{}': dtype must be a string", path, name);
      std::string dt = t["dtype"].get<std::string>();
      if (dt == "F32") info.dtype = TensorDType::f32;
      else if (dt == "F16") info.dtype = TensorDType::f16;
      else if (dt == "BF16") info.dtype = TensorDType::bf16;
      else T2_FAIL_AS(FormatError, "{}: tensor '{}' has unknown dtype '{}'; t2 reads F32, F16 and BF16", path, name, dt);
      T2_CHECK_AS(FormatError, t["shape"].is_array(), "{}: tensor '{}': shape must be a list", path, name);
      for (const auto& d : t["shape"]) {
        T2_CHECK_AS(FormatError, d.is_number_integer() && d.get<int64_t>() >= 0,
                    "{}: tensor '{}': shape entries must be non-negative integers, got {}", path, name, d.dump());
        info.shape.push_back(d.get<int64_t>());
      }
      const json& off = t["data_offsets"];
      T2_CHECK_AS(FormatError, off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                  "{}: tensor '{}': data_offsets must be two non-negative integers", path, name);
      uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
      T2_CHECK_AS(FormatError, b <= e && e <= data_size,
                  "{}: tensor '{}' data_offsets [{}, {}] are out of range: the data section holds {} bytes "
                  "(file byte offsets {}..{})", path, name, b, e, data_size, data_start + b, data_start + e);
      uint64_t want = static_cast<uint64_t>(info.numel()) * tensor_dtype_size(info.dtype);
      T2_CHECK_AS(FormatError, e - b == want,
                  "{}: tensor '{}' at byte offset {}: shape [{}] of {} needs {} bytes but data_offsets span {}",
                  path, name, data_start + b, fmt::join(info.shape, ", "), dt, want, e - b);
      info.begin = data_start + b;
      info.end = data_start + e;
      tensors_[name] = std::move(info);
    }
    // Overlaps: sort by start and require each tensor to begin at or after the previous end.
    std::vector<const TensorInfo*> order;
    for (const auto& kv : tensors_) order.push_back(&kv.second);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < order.size(); ++i)
      T2_CHECK_AS(FormatError, order[i]->begin >= order[i - 1]->end || order[i]->begin == order[i]->end,
                  "{}: tensors '{}' (bytes {}..{}) and '{}' (bytes {}..{}) overlap at byte offset {}", path,
                  order[i - 1]->name, order[i - 1]->begin, order[i - 1]->end, order[i]->name, order[i]->begin,
                  order[i]->end, order[i]->begin);
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Checkpoint Checkpoint::open_file(const std::string& path) {
  Checkpoint c;
  c.source_ = path;
  c.files_.push_back(std::make_shared<SafetensorsFile>(path));
  for (const auto& kv : c.files_[0]->tensors()) c.where_[kv.first] = 0;
  return c;
}

Checkpoint Checkpoint::open(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (path_exists(single)) {
    Checkpoint c = open_file(single);
    c.source_ = dir;
    return c;
  }
  T2_CHECK_AS(UsageError, path_exists(index),
              "{}: no model.safetensors or model.safetensors.index.json in the model folder", dir);
  json j;
  try {
    j = json::parse(read_file(index));
  } catch (const json::parse_error& e) {
    T2_FAIL_AS(FormatError, "{}: malformed JSON at byte {}: {}", index, e.byte, e.what());
  }
  T2_CHECK_AS(FormatError, j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
              "{}: expected an object with key 'weight_map' (tensor name -> shard file)", index);
  Checkpoint c;
  c.source_ = dir;
  std::map<std::string, size_t> file_index;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    T2_CHECK_AS(FormatError, it->is_string(), "{}: weight_map['{}'] must be a file name", index, it.key());
    std::string f = it->get<std::string>();
    T2_CHECK_AS(FormatError, f.find('/') == std::string::npos && f != ".." && !f.empty(),
                "{}: weight_map['{}'] = '{}' must name a file in the same folder", index, it.key(), f);
    auto fi = file_index.find(f);
    if (fi == file_index.end()) {
      std::string p = dir + "/" + f;
      T2_CHECK_AS(FormatError, path_exists(p), "{}: weight_map['{}'] names shard '{}', which does not exist", index,
                  it.key(), f);
      c.files_.push_back(std::make_shared<SafetensorsFile>(p));
      fi = file_index.emplace(f, c.files_.size() - 1).first;
    }
    T2_CHECK_AS(FormatError, c.files_[fi->second]->find(it.key()) != nullptr,
                "{}: weight_map names tensor '{}' in shard '{}', but that shard has no such tensor", index, it.key(), f);
    c.where_[it.key()] = fi->second;
  }
  return c;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> n;
  for (const auto& kv : where_) n.push_back(kv.first);
  return n;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) {
    std::string close = closest_name(name, names());
    T2_FAIL_AS(FormatError, "{}: checkpoint has no tensor '{}'{}", source_, name,
               close.empty() ? std::string() : " (did you mean '" + close + "'?)");
  }
  return *files_[it->second]->find(name);
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  info(name);
  return *files_[where_.at(name)];
}

const void* Checkpoint::data(const std::string& name) const { return file_of(name).data(info(name)); }

const void* release_mapped_pages(const void* begin, const void* end) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(begin) + page - 1) & ~(page - 1);
  const uintptr_t e = reinterpret_cast<uintptr_t>(end) & ~(page - 1);
  if (e <= b) return begin;
  ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
  return reinterpret_cast<const void*>(e);
}

void Checkpoint::expect_shape(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = info(name);
  T2_CHECK_AS(FormatError, t.shape == shape, "{}: tensor '{}' (byte offset {}) has shape [{}], the config implies [{}]",
              file_of(name).path(), name, t.begin, fmt::join(t.shape, ", "), fmt::join(shape, ", "));
}

std::vector<float> Checkpoint::read_f32(const std::string& name, int64_t row_begin, int64_t rows, int64_t col_begin,
                                        int64_t cols) const {
  const TensorInfo& t = info(name);
  T2_CHECK(t.shape.size() == 1 || t.shape.size() == 2, "tensor '{}' has {} dimensions; read_f32 reads 1-D or 2-D",
           name, t.shape.size());
  const int64_t R = t.shape[0], C = t.shape.size() == 2 ? t.shape[1] : 1;
  if (rows < 0) rows = R - row_begin;
  if (cols < 0) cols = C - col_begin;
  T2_CHECK(row_begin >= 0 && rows >= 0 && row_begin + rows <= R && col_begin >= 0 && cols >= 0 && col_begin + cols <= C,
           "tensor '{}' [{} x {}]: slice rows {}+{} cols {}+{} out of range", name, R, C, row_begin, rows, col_begin, cols);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  const uint8_t* base = static_cast<const uint8_t*>(data(name));
  const size_t es = tensor_dtype_size(t.dtype);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = base + ((row_begin + r) * C + col_begin) * es;
    float* dst = out.data() + r * cols;
    if (t.dtype == TensorDType::f32) {
      std::memcpy(dst, src, static_cast<size_t>(cols) * 4);
    } else {
      for (int64_t k = 0; k < cols; ++k) {
        uint16_t v;
        std::memcpy(&v, src + k * 2, 2);
        dst[k] = t.dtype == TensorDType::bf16 ? bf16_to_f32(v) : f16_to_f32(v);
      }
    }
  }
  return out;
}

void write_safetensors_f32(
    const std::string& path,
    const std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>& tensors) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& [name, t] : tensors) {
    uint64_t bytes = t.second.size() * 4;
    h[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string header = h.dump();
  while ((header.size() + 8) % 8 != 0) header += ' ';  // keep the data 8-byte aligned
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += header;
  for (const auto& [name, t] : tensors)
    out.append(reinterpret_cast<const char*>(t.second.data()), t.second.size() * 4);
  write_file_atomic(path, out);
}

}  // namespace t2
