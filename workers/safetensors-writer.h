// Writes Hugging Face safetensors files: an 8-byte little-endian header length, the JSON header
// (tensor name -> dtype, shape, data_offsets, plus an optional "__metadata__" map of strings) and
// the tensor bytes in the order given. The output is a pure function of the arguments (keys sorted,
// no timestamps), so the same tensors always give the same bytes. Torch-free (t2_workers_base).
//
//   SafetensorsWriter w;
//   w.add_f32("model.norm.weight", {64}, values);
//   w.set_metadata("format", "pt");          // what transformers expects of a PyTorch checkpoint
//   w.write("out/model.safetensors");        // atomic (core/files.h)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workers/safetensors.h"

namespace t2 {

class SafetensorsWriter {
 public:
  // Adds a float32 tensor; values.size() must equal the product of shape. UsageError for a
  // duplicate or empty name, a name starting with "__", or a size mismatch.
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values);
  // Adds raw little-endian bytes of the given dtype (bf16/f16 as their 16-bit patterns).
  void add_raw(const std::string& name, TensorDType dtype, const std::vector<int64_t>& shape, std::string bytes);
  void set_metadata(const std::string& key, const std::string& value);

  size_t size() const { return tensors_.size(); }
  // The whole file as bytes.
  std::string bytes() const;
  // Writes bytes() to `path` atomically.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    TensorDType dtype;
    std::vector<int64_t> shape;
    std::string data;
  };
  std::vector<Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace t2
