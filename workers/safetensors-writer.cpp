#include "workers/safetensors-writer.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/files.h"

namespace t2 {

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    T2_CHECK_AS(UsageError, d >= 0, "safetensors: negative dimension {}", d);
    n *= d;
  }
  return n;
}

}  // namespace

void SafetensorsWriter::add_raw(const std::string& name, TensorDType dtype, const std::vector<int64_t>& shape,
                                std::string bytes) {
  T2_CHECK_AS(UsageError, !name.empty() && name.rfind("__", 0) != 0,
              "safetensors: invalid tensor name '{}' (empty or starting with '__')", name);
  for (const auto& e : tensors_)
    T2_CHECK_AS(UsageError, e.name != name, "safetensors: tensor '{}' added twice", name);
  const uint64_t want = static_cast<uint64_t>(numel_of(shape)) * tensor_dtype_size(dtype);
  T2_CHECK_AS(UsageError, bytes.size() == want, "safetensors: tensor '{}' has {} bytes, its shape needs {}", name,
              bytes.size(), want);
  tensors_.push_back({name, dtype, shape, std::move(bytes)});
}

void SafetensorsWriter::add_f32(const std::string& name, const std::vector<int64_t>& shape,
                                const std::vector<float>& values) {
  T2_CHECK_AS(UsageError, static_cast<int64_t>(values.size()) == numel_of(shape),
              "safetensors: tensor '{}' has {} values, its shape needs {}", name, values.size(), numel_of(shape));
  std::string bytes(values.size() * 4, '\0');
  // safetensors is little-endian; so is every machine t2 runs on
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  add_raw(name, TensorDType::f32, shape, std::move(bytes));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

std::string SafetensorsWriter::bytes() const {
  nlohmann::json h = nlohmann::json::object();  // keys sorted: the header depends only on the content
  if (!metadata_.empty()) h["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (const auto& e : tensors_) {
    uint64_t n = e.data.size();
    h[e.name] = {{"dtype", tensor_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string header = h.dump();
  while (header.size() % 8 != 0) header += ' ';  // data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.reserve(8 + header.size() + off);
  out += header;
  for (const auto& e : tensors_) out += e.data;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const { write_file_atomic(path, bytes()); }

}  // namespace t2
