// A small, torch-free RAII layer over the HDF5 C API: files, groups, attributes and datasets of
// plain buffers. Everything t2 stores (run metadata, per-example records, checkpoints, expert
// vectors, SVD factors) goes through this header; nothing else in t2 calls H5* directly.
//
//   auto f = t2::h5::File::create_atomic("expert.h5");     // written as <path>.tmp.<pid>.<n>
//   auto g = f.create_group("layers/0/mlp.up_proj");          // intermediate groups are created
//   g.set_attr("rank", int64_t{4096});
//   g.write("z", z.data(), {z.size()});                       // 1-D float
//   g.write("U", u.data(), {rows, cols});                     // N-D, row-major
//   f.commit();                                               // flush, fsync, rename, fsync(dir)
//
//   auto r = t2::h5::File::open("expert.h5");                 // read-only
//   auto z = r.read<float>("layers/0/mlp.up_proj/z");         // Array<float>{data, shape}
//
// Element types: float, double, int64_t, uint8_t (stored as little-endian IEEE / two's complement,
// so h5py reads them as float32, float64, int64, uint8) and variable-length UTF-8 strings. Reading
// converts between numeric types (an int64 dataset can be read as double). Names are paths
// relative to the group ("a/b/c"). Every failure throws t2::Error naming the file, the object and
// the HDF5 reason; a file that is not HDF5 or is truncated gives t2::FormatError (exit code 2).
//
// Extendible datasets (training curves, record tables) have an unlimited first dimension and are
// chunked: create_extendible() then append() rows. Large fixed datasets (SVD factors of one TP
// shard) can be created empty with create_dataset() and filled or read by row ranges.
//
// Not thread-safe (Debian's serial HDF5): use one thread per process for HDF5 calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace t2::h5 {

using Shape = std::vector<uint64_t>;

enum class DType { f32, f64, i64, u8, string };
const char* dtype_name(DType t);  // "float32", "float64", "int64", "uint8", "string"

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

// A dataset read back: row-major data and its shape (empty shape = scalar, one element).
template <typename T>
struct Array {
  std::vector<T> data;
  Shape shape;
  uint64_t rows() const { return shape.empty() ? 1 : shape[0]; }
};

// Owns one HDF5 identifier; closes it with the right H5*close on destruction. Copies share it.
class Handle {
 public:
  Handle() = default;
  explicit Handle(int64_t id);   // takes ownership (hid_t is int64_t in HDF5 1.10+)
  int64_t id() const { return h_ ? *h_ : -1; }
  bool valid() const { return h_ != nullptr; }

 private:
  std::shared_ptr<int64_t> h_;
};

// A group (the file root is a group too). `where()` is "file.h5:/path", used in messages.
class Group {
 public:
  Group() = default;

  const std::string& where() const { return where_; }
  const std::string& file_path() const { return file_path_; }

  // Groups. create_group creates missing parents; open_group throws naming what exists.
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Group require_group(const std::string& name);   // open when present, else create
  bool has(const std::string& name) const;         // a link (group or dataset) exists at this path
  bool is_group(const std::string& name) const;
  std::vector<std::string> children() const;       // link names, sorted by name
  void remove(const std::string& name);            // unlink (space is not reclaimed in place)

  // Attributes on this group.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const char* value) { set_attr(name, std::string(value)); }
  void set_attr(const std::string& name, int64_t value);
  void set_attr(const std::string& name, int value) { set_attr(name, static_cast<int64_t>(value)); }
  void set_attr(const std::string& name, double value);
  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;
  std::string attr_string(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  double attr_double(const std::string& name) const;   // int attributes are converted
  std::string attr_string_or(const std::string& name, const std::string& fallback) const;
  int64_t attr_int_or(const std::string& name, int64_t fallback) const;
  double attr_double_or(const std::string& name, double fallback) const;

  // Attributes on a dataset or group below this one ("curve/reward_mean").
  void set_attr_on(const std::string& object, const std::string& name, const std::string& value);
  void set_attr_on(const std::string& object, const std::string& name, const char* value) {
    set_attr_on(object, name, std::string(value));
  }
  void set_attr_on(const std::string& object, const std::string& name, int64_t value);
  void set_attr_on(const std::string& object, const std::string& name, int value) {
    set_attr_on(object, name, static_cast<int64_t>(value));
  }
  void set_attr_on(const std::string& object, const std::string& name, double value);
  std::string attr_string_on(const std::string& object, const std::string& name) const;
  int64_t attr_int_on(const std::string& object, const std::string& name) const;
  double attr_double_on(const std::string& object, const std::string& name) const;

  // Whole datasets. `shape` empty means a scalar; product(shape) elements are read from `data`.
  template <typename T>
  void write(const std::string& name, const T* data, const Shape& shape) {
    write_raw(name, DTypeOf<T>::value, data, shape);
  }
  template <typename T>
  void write(const std::string& name, const std::vector<T>& v) {
    write_raw(name, DTypeOf<T>::value, v.data(), Shape{v.size()});
  }
  void write_strings(const std::string& name, const std::vector<std::string>& v);

  template <typename T>
  Array<T> read(const std::string& name) const {
    Array<T> a;
    a.shape = shape(name);
    a.data.resize(element_count(a.shape));
    read_raw(name, DTypeOf<T>::value, a.data.data(), 0, a.shape.empty() ? 0 : a.shape[0]);
    return a;
  }
  template <typename T>
  std::vector<T> read_vector(const std::string& name) const { return read<T>(name).data; }
  std::vector<std::string> read_strings(const std::string& name) const;
  Shape shape(const std::string& name) const;
  DType dtype(const std::string& name) const;

  // Row ranges of a dataset of rank >= 1 (rows along the first dimension).
  void create_dataset(const std::string& name, DType type, const Shape& shape);
  template <typename T>
  void write_rows(const std::string& name, uint64_t first_row, const T* data, uint64_t rows) {
    write_rows_raw(name, DTypeOf<T>::value, first_row, data, rows);
  }
  template <typename T>
  Array<T> read_rows(const std::string& name, uint64_t first_row, uint64_t rows) const {
    Array<T> a;
    a.shape = shape(name);
    a.shape.at(0) = rows;
    a.data.resize(element_count(a.shape));
    read_raw(name, DTypeOf<T>::value, a.data.data(), first_row, rows);
    return a;
  }

  // Extendible datasets: first dimension unlimited, `row_shape` the shape of one row ({} = scalars).
  void create_extendible(const std::string& name, DType type, const Shape& row_shape = {},
                         uint64_t chunk_rows = 1024);
  template <typename T>
  void append(const std::string& name, const T* data, uint64_t rows) {
    append_raw(name, DTypeOf<T>::value, data, rows);
  }
  template <typename T>
  void append(const std::string& name, const std::vector<T>& rows_of_scalars) {
    append_raw(name, DTypeOf<T>::value, rows_of_scalars.data(), rows_of_scalars.size());
  }
  void append_strings(const std::string& name, const std::vector<std::string>& v);

  static uint64_t element_count(const Shape& s);

 protected:
  Group(Handle h, std::string file_path, std::string path);
  void write_raw(const std::string& name, DType t, const void* data, const Shape& shape);
  void read_raw(const std::string& name, DType t, void* out, uint64_t first_row, uint64_t rows) const;
  void write_rows_raw(const std::string& name, DType t, uint64_t first_row, const void* data,
                      uint64_t rows);
  void append_raw(const std::string& name, DType t, const void* data, uint64_t rows);
  std::string where(const std::string& name) const;   // "file.h5:/group/name"
  std::string child_path(const std::string& name) const;

  Handle h_;
  std::string file_path_;
  std::string path_ = "/";
  std::string where_;
};

// A file. Read-only opens may be shared; a file being written has one writer (results/ ensures it).
class File : public Group {
 public:
  enum class Mode { read_only, read_write };

  static File create(const std::string& path);        // truncates an existing file
  static File open(const std::string& path, Mode mode = Mode::read_only);
  // Creates "<path>.tmp.<pid>.<n>"; commit() makes it appear at `path` atomically and durably
  // (flush, close, fsync, rename, fsync of the directory). Destroyed without commit(), the
  // temporary file is removed.
  static File create_atomic(const std::string& path);

  File() = default;
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const { return file_path_; }    // the path written now (temp if atomic)
  const std::string& final_path() const { return final_path_; }
  void flush();
  void close();    // closes every object of the file (handles left elsewhere become invalid)
  void commit();   // only for create_atomic files

 private:
  File(Handle h, std::string path);
  Handle file_h_;
  std::string final_path_;   // non-empty for create_atomic files until committed
};

// True when `path` is an HDF5 file that opens and whose root group can be listed.
bool is_readable_hdf5(const std::string& path, std::string* why = nullptr);

}  // namespace t2::h5
