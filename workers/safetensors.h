// Safetensors checkpoints: one file (`model.safetensors`) or shards listed in
// `model.safetensors.index.json`. Files are memory-mapped and validated when opened; tensor data is
// touched only when read, so a tensor-parallel rank that reads its slice pages in only that slice.
// Torch-free (t2_workers_base): the torch side wraps `data()` without copying. The mapping is private
// and writable (copy-on-write): writing through `data()` changes this process's pages, never the file.
//
// Corrupt input is refused with a FormatError naming the file and the byte offset: truncated file,
// header length past the end, malformed header JSON, unknown dtype, shape/size mismatch, overlapping
// or out-of-range tensor offsets, and (through the index) missing files and missing tensor names.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace t2 {

enum class TensorDType : uint8_t { f32, f16, bf16 };
size_t tensor_dtype_size(TensorDType t);
const char* tensor_dtype_name(TensorDType t);  // "F32", "F16", "BF16" (safetensors spelling)

struct TensorInfo {
  std::string name;
  TensorDType dtype = TensorDType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // absolute byte offset of the data in the file
  uint64_t end = 0;    // one past the last byte
  int64_t numel() const;
};

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  // Maps and validates the file; throws FormatError / Error naming the path.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  // Pointer to the first byte of the tensor inside the mapping (valid while this object lives).
  const void* data(const TensorInfo& t) const { return base_ + t.begin; }

 private:
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model folder, single file or sharded.
class Checkpoint {
 public:
  // Opens MODEL_DIR/model.safetensors, else MODEL_DIR/model.safetensors.index.json and its shards.
  static Checkpoint open(const std::string& model_dir);
  // Opens one .safetensors file.
  static Checkpoint open_file(const std::string& path);

  bool has(const std::string& name) const { return where_.count(name) != 0; }
  std::vector<std::string> names() const;
  // Throws FormatError naming the checkpoint and the closest existing name when absent.
  const TensorInfo& info(const std::string& name) const;
  const SafetensorsFile& file_of(const std::string& name) const;
  const void* data(const std::string& name) const;

  // Checks that a tensor exists with this shape (FormatError naming file, tensor and both shapes).
  void expect_shape(const std::string& name, const std::vector<int64_t>& shape) const;

  // The rows [row_begin, row_begin+rows) and columns [col_begin, col_begin+cols) of a 1-D or 2-D
  // tensor, converted to float32, row-major. For 1-D tensors use row_begin/rows only (cols = 1).
  std::vector<float> read_f32(const std::string& name, int64_t row_begin = 0, int64_t rows = -1,
                              int64_t col_begin = 0, int64_t cols = -1) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;  // the folder or file, for messages
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// Writes a float32 safetensors file (used by tests and tools; atomic).
void write_safetensors_f32(const std::string& path,
                           const std::vector<std::pair<std::string, std::pair<std::vector<int64_t>,
                                                                               std::vector<float>>>>& tensors);

// Drops this process's mapping of the pages that lie wholly inside [begin, end), bytes of a mapped
// checkpoint (madvise MADV_DONTNEED): for tensor bytes that have been copied (converted, fused, moved to
// a GPU) and that nobody serves from the mapping, so that only the copy stays resident. A later read
// maps the file's pages again; pages written through the mapping would revert to the file's contents,
// so never release bytes of a tensor served in place. Best effort (a failure only costs memory).
// Returns where the released pages end (`end` rounded down to a page; `begin` when none was whole), so
// that a caller releasing a range in pieces starts the next piece there and skips no page.
const void* release_mapped_pages(const void* begin, const void* end);

// bf16/f16 <-> f32 conversions shared with the torch-free callers.
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);

}  // namespace t2
