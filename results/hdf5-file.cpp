#include "results/hdf5-file.h"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/files.h"

namespace t2::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; t2 turns that off once and puts the innermost
// reason into the exception message instead.
void quiet_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (n == 0 && e->desc) *s = e->desc;                       // innermost: the actual cause
  else if (e->desc && s->size() < 300) *s += std::string("; ") + e->desc;
  return 0;
}

std::string reason() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &s);
  H5Eclear2(H5E_DEFAULT);
  return s.empty() ? "unknown HDF5 error" : s;
}

#define H5_CHECK(cond, ...)                                                                     \
  do {                                                                                          \
    if (!(cond)) T2_FAIL("{} (HDF5: {})", fmt::format(__VA_ARGS__), reason());                  \
  } while (0)

hid_t file_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i64: return H5T_STD_I64LE;
    case DType::u8: return H5T_STD_U8LE;
    case DType::string: break;
  }
  T2_FAIL("no numeric HDF5 type for {}", dtype_name(t));
}

hid_t mem_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u8: return H5T_NATIVE_UINT8;
    case DType::string: break;
  }
  T2_FAIL("no numeric HDF5 type for {}", dtype_name(t));
}

size_t type_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::string: return sizeof(char*);
  }
  return 0;
}

Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  return t;
}

Handle lcpl_with_parents() {
  Handle p(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(p.id(), 1);
  return p;
}

Handle make_space(const Shape& shape, const Shape* maxdims = nullptr) {
  if (shape.empty()) return Handle(H5Screate(H5S_SCALAR));
  std::vector<hsize_t> d(shape.begin(), shape.end());
  std::vector<hsize_t> m;
  if (maxdims) m.assign(maxdims->begin(), maxdims->end());
  return Handle(H5Screate_simple(static_cast<int>(d.size()), d.data(), maxdims ? m.data() : nullptr));
}

Shape space_shape(hid_t space) {
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd <= 0) return {};
  std::vector<hsize_t> d(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return Shape(d.begin(), d.end());
}

// Reads a string attribute or dataset element buffer written either as variable-length or as
// fixed-length strings (h5py writes both, depending on the numpy dtype).
std::vector<std::string> read_string_values(hid_t obj, bool is_attr, size_t n) {
  Handle ftype(is_attr ? H5Aget_type(obj) : H5Dget_type(obj));
  std::vector<std::string> out(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(ftype.id()) > 0) {
    Handle mt = vlen_string_type();
    std::vector<char*> ptrs(n, nullptr);
    herr_t rc = is_attr ? H5Aread(obj, mt.id(), ptrs.data())
                        : H5Dread(obj, mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    if (rc < 0) return {};
    for (size_t i = 0; i < n; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    Handle space(is_attr ? H5Aget_space(obj) : H5Dget_space(obj));
    H5Dvlen_reclaim(mt.id(), space.id(), H5P_DEFAULT, ptrs.data());
  } else {
    size_t sz = H5Tget_size(ftype.id());
    Handle mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt.id(), sz);
    std::vector<char> buf(sz * n);
    herr_t rc = is_attr ? H5Aread(obj, mt.id(), buf.data())
                        : H5Dread(obj, mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    if (rc < 0) return {};
    for (size_t i = 0; i < n; ++i) out[i] = std::string(buf.data() + i * sz, strnlen(buf.data() + i * sz, sz));
  }
  return out;
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::string: return "string";
  }
  return "?";
}

// ---- Handle -------------------------------------------------------------------------------------

Handle::Handle(int64_t id) {
  if (id < 0) return;
  h_ = std::shared_ptr<int64_t>(new int64_t(id), [](int64_t* p) {
    hid_t id = *p;
    delete p;
    // Ids closed already by a strong file close are no longer valid: skip them.
    if (H5Iis_valid(id) <= 0) return;
    switch (H5Iget_type(id)) {
      case H5I_FILE: H5Fclose(id); break;
      case H5I_GROUP: H5Gclose(id); break;
      case H5I_DATASET: H5Dclose(id); break;
      case H5I_DATATYPE: H5Tclose(id); break;
      case H5I_DATASPACE: H5Sclose(id); break;
      case H5I_ATTR: H5Aclose(id); break;
      case H5I_GENPROP_LST: H5Pclose(id); break;
      default: break;
    }
  });
}

// ---- Group --------------------------------------------------------------------------------------

Group::Group(Handle h, std::string file_path, std::string path)
    : h_(std::move(h)), file_path_(std::move(file_path)), path_(std::move(path)) {
  where_ = file_path_ + ":" + path_;
}

std::string Group::child_path(const std::string& name) const {
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

std::string Group::where(const std::string& name) const { return file_path_ + ":" + child_path(name); }

uint64_t Group::element_count(const Shape& s) {
  uint64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

bool Group::has(const std::string& name) const {
  quiet_hdf5();
  // H5Lexists needs every intermediate link to exist: walk the path one component at a time.
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    std::string prefix = name.substr(0, slash);
    htri_t e = H5Lexists(h_.id(), prefix.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

bool Group::is_group(const std::string& name) const {
  if (!has(name)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(h_.id(), name.c_str(), &info, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return info.type == H5O_TYPE_GROUP;
}

Group Group::create_group(const std::string& name) {
  quiet_hdf5();
  Handle lcpl = lcpl_with_parents();
  hid_t g = H5Gcreate2(h_.id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(g >= 0, "cannot create group '{}'", where(name));
  return Group(Handle(g), file_path_, child_path(name));
}

Group Group::open_group(const std::string& name) const {
  quiet_hdf5();
  if (!is_group(name))
    T2_FAIL_AS(FormatError, "'{}' has no group '{}' (children: {})", where_, name,
               [&] {
                 std::string s;
                 for (auto& c : children()) s += (s.empty() ? "" : ", ") + c;
                 return s.empty() ? std::string("none") : s;
               }());
  hid_t g = H5Gopen2(h_.id(), name.c_str(), H5P_DEFAULT);
  H5_CHECK(g >= 0, "cannot open group '{}'", where(name));
  return Group(Handle(g), file_path_, child_path(name));
}

Group Group::require_group(const std::string& name) {
  return is_group(name) ? open_group(name) : create_group(name);
}

namespace {
herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Group::children() const {
  quiet_hdf5();
  std::vector<std::string> out;
  hsize_t idx = 0;
  H5_CHECK(H5Literate(h_.id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &out) >= 0,
           "cannot list '{}'", where_);
  std::sort(out.begin(), out.end());
  return out;
}

void Group::remove(const std::string& name) {
  quiet_hdf5();
  H5_CHECK(H5Ldelete(h_.id(), name.c_str(), H5P_DEFAULT) >= 0, "cannot remove '{}'", where(name));
}

// ---- attributes ---------------------------------------------------------------------------------

namespace {

void write_attr(hid_t obj, const std::string& where, const std::string& name, hid_t ftype, hid_t mtype,
                const void* value) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle space(H5Screate(H5S_SCALAR));
  Handle a(H5Acreate2(obj, name.c_str(), ftype, space.id(), H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(a.valid(), "cannot create attribute '{}' on '{}'", name, where);
  H5_CHECK(H5Awrite(a.id(), mtype, value) >= 0, "cannot write attribute '{}' on '{}'", name, where);
}

void write_string_attr(hid_t obj, const std::string& where, const std::string& name,
                       const std::string& value) {
  Handle t = vlen_string_type();
  const char* p = value.c_str();
  write_attr(obj, where, name, t.id(), t.id(), &p);
}

Handle open_attr(hid_t obj, const std::string& where, const std::string& name) {
  quiet_hdf5();
  if (H5Aexists(obj, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    T2_FAIL_AS(FormatError, "'{}' has no attribute '{}'", where, name);
  }
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  H5_CHECK(a.valid(), "cannot open attribute '{}' on '{}'", name, where);
  return a;
}

std::string read_string_attr(hid_t obj, const std::string& where, const std::string& name) {
  Handle a = open_attr(obj, where, name);
  Handle t(H5Aget_type(a.id()));
  if (H5Tget_class(t.id()) != H5T_STRING)
    T2_FAIL_AS(FormatError, "attribute '{}' on '{}' is not a string", name, where);
  auto v = read_string_values(a.id(), true, 1);
  H5_CHECK(v.size() == 1, "cannot read attribute '{}' on '{}'", name, where);
  return v[0];
}

template <typename T>
T read_numeric_attr(hid_t obj, const std::string& where, const std::string& name, hid_t mtype) {
  Handle a = open_attr(obj, where, name);
  Handle t(H5Aget_type(a.id()));
  auto cls = H5Tget_class(t.id());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    T2_FAIL_AS(FormatError, "attribute '{}' on '{}' is not a number", name, where);
  T v{};
  H5_CHECK(H5Aread(a.id(), mtype, &v) >= 0, "cannot read attribute '{}' on '{}'", name, where);
  return v;
}

}  // namespace

void Group::set_attr(const std::string& name, const std::string& value) {
  quiet_hdf5();
  write_string_attr(h_.id(), where_, name, value);
}
void Group::set_attr(const std::string& name, int64_t value) {
  quiet_hdf5();
  write_attr(h_.id(), where_, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}
void Group::set_attr(const std::string& name, double value) {
  quiet_hdf5();
  write_attr(h_.id(), where_, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}
bool Group::has_attr(const std::string& name) const {
  quiet_hdf5();
  htri_t e = H5Aexists(h_.id(), name.c_str());
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}
std::vector<std::string> Group::attr_names() const {
  quiet_hdf5();
  std::vector<std::string> out;
  hsize_t idx = 0;
  H5Aiterate2(h_.id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &out);
  return out;
}
std::string Group::attr_string(const std::string& name) const { return read_string_attr(h_.id(), where_, name); }
int64_t Group::attr_int(const std::string& name) const {
  return read_numeric_attr<int64_t>(h_.id(), where_, name, H5T_NATIVE_INT64);
}
double Group::attr_double(const std::string& name) const {
  return read_numeric_attr<double>(h_.id(), where_, name, H5T_NATIVE_DOUBLE);
}
std::string Group::attr_string_or(const std::string& name, const std::string& fallback) const {
  return has_attr(name) ? attr_string(name) : fallback;
}
int64_t Group::attr_int_or(const std::string& name, int64_t fallback) const {
  return has_attr(name) ? attr_int(name) : fallback;
}
double Group::attr_double_or(const std::string& name, double fallback) const {
  return has_attr(name) ? attr_double(name) : fallback;
}

void Group::set_attr_on(const std::string& object, const std::string& name, const std::string& value) {
  quiet_hdf5();
  Handle o(H5Oopen(h_.id(), object.c_str(), H5P_DEFAULT));
  H5_CHECK(o.valid(), "cannot open '{}'", where(object));
  write_string_attr(o.id(), where(object), name, value);
}

void Group::set_attr_on(const std::string& object, const std::string& name, int64_t value) {
  quiet_hdf5();
  Handle o(H5Oopen(h_.id(), object.c_str(), H5P_DEFAULT));
  H5_CHECK(o.valid(), "cannot open '{}'", where(object));
  write_attr(o.id(), where(object), name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Group::set_attr_on(const std::string& object, const std::string& name, double value) {
  quiet_hdf5();
  Handle o(H5Oopen(h_.id(), object.c_str(), H5P_DEFAULT));
  H5_CHECK(o.valid(), "cannot open '{}'", where(object));
  write_attr(o.id(), where(object), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

namespace {
Handle open_object(hid_t g, const std::string& where, const std::string& object, bool exists) {
  if (!exists) T2_FAIL_AS(FormatError, "'{}' does not exist", where);
  Handle o(H5Oopen(g, object.c_str(), H5P_DEFAULT));
  H5_CHECK(o.valid(), "cannot open '{}'", where);
  return o;
}
}  // namespace

std::string Group::attr_string_on(const std::string& object, const std::string& name) const {
  quiet_hdf5();
  Handle o = open_object(h_.id(), where(object), object, has(object));
  return read_string_attr(o.id(), where(object), name);
}

int64_t Group::attr_int_on(const std::string& object, const std::string& name) const {
  quiet_hdf5();
  Handle o = open_object(h_.id(), where(object), object, has(object));
  return read_numeric_attr<int64_t>(o.id(), where(object), name, H5T_NATIVE_INT64);
}

double Group::attr_double_on(const std::string& object, const std::string& name) const {
  quiet_hdf5();
  Handle o = open_object(h_.id(), where(object), object, has(object));
  return read_numeric_attr<double>(o.id(), where(object), name, H5T_NATIVE_DOUBLE);
}

// ---- datasets -----------------------------------------------------------------------------------

namespace {

Handle open_dataset(hid_t group, const std::string& where, const std::string& name, bool exists) {
  if (!exists) T2_FAIL_AS(FormatError, "'{}' does not exist", where);
  Handle d(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  H5_CHECK(d.valid(), "cannot open dataset '{}'", where);
  return d;
}

}  // namespace

void Group::write_raw(const std::string& name, DType t, const void* data, const Shape& shape) {
  quiet_hdf5();
  if (has(name)) remove(name);
  Handle space = make_space(shape);
  Handle lcpl = lcpl_with_parents();
  Handle d(H5Dcreate2(h_.id(), name.c_str(), file_type(t), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(d.valid(), "cannot create dataset '{}' ({})", where(name), dtype_name(t));
  if (element_count(shape) == 0) return;
  H5_CHECK(H5Dwrite(d.id(), mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
           "cannot write dataset '{}'", where(name));
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& v) {
  quiet_hdf5();
  if (has(name)) remove(name);
  Handle t = vlen_string_type();
  Handle space = make_space(Shape{v.size()});
  Handle lcpl = lcpl_with_parents();
  Handle d(H5Dcreate2(h_.id(), name.c_str(), t.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(d.valid(), "cannot create string dataset '{}'", where(name));
  if (v.empty()) return;
  std::vector<const char*> p(v.size());
  for (size_t i = 0; i < v.size(); ++i) p[i] = v[i].c_str();
  H5_CHECK(H5Dwrite(d.id(), t.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) >= 0,
           "cannot write string dataset '{}'", where(name));
}

Shape Group::shape(const std::string& name) const {
  quiet_hdf5();
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle s(H5Dget_space(d.id()));
  return space_shape(s.id());
}

DType Group::dtype(const std::string& name) const {
  quiet_hdf5();
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle t(H5Dget_type(d.id()));
  switch (H5Tget_class(t.id())) {
    case H5T_FLOAT: return H5Tget_size(t.id()) == 4 ? DType::f32 : DType::f64;
    case H5T_INTEGER:
      return H5Tget_size(t.id()) == 1 && H5Tget_sign(t.id()) == H5T_SGN_NONE ? DType::u8 : DType::i64;
    case H5T_STRING: return DType::string;
    default: break;
  }
  T2_FAIL_AS(FormatError, "dataset '{}' has a type t2 does not read (not float, integer or string)",
             where(name));
}

void Group::read_raw(const std::string& name, DType t, void* out, uint64_t first_row, uint64_t rows) const {
  quiet_hdf5();
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle fspace(H5Dget_space(d.id()));
  Shape full = space_shape(fspace.id());
  Handle ftype(H5Dget_type(d.id()));
  auto cls = H5Tget_class(ftype.id());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    T2_FAIL_AS(FormatError, "dataset '{}' is not numeric; cannot read it as {}", where(name), dtype_name(t));
  if (full.empty()) {
    H5_CHECK(H5Dread(d.id(), mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0, "cannot read '{}'",
             where(name));
    return;
  }
  if (first_row + rows > full[0])
    T2_FAIL_AS(FormatError, "'{}' has {} rows; rows [{}, {}) were asked for", where(name), full[0],
               first_row, first_row + rows);
  if (rows == 0 || element_count(full) == 0) return;
  Shape sub = full;
  sub[0] = rows;
  std::vector<hsize_t> start(full.size(), 0), count(sub.begin(), sub.end());
  start[0] = first_row;
  H5_CHECK(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) >= 0,
           "select rows of '{}'", where(name));
  Handle mspace = make_space(sub);
  H5_CHECK(H5Dread(d.id(), mem_type(t), mspace.id(), fspace.id(), H5P_DEFAULT, out) >= 0,
           "cannot read '{}' as {}", where(name), dtype_name(t));
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  quiet_hdf5();
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle t(H5Dget_type(d.id()));
  if (H5Tget_class(t.id()) != H5T_STRING)
    T2_FAIL_AS(FormatError, "dataset '{}' does not hold strings", where(name));
  Handle s(H5Dget_space(d.id()));
  uint64_t n = element_count(space_shape(s.id()));
  auto v = read_string_values(d.id(), false, n);
  H5_CHECK(v.size() == n, "cannot read strings of '{}'", where(name));
  return v;
}

void Group::create_dataset(const std::string& name, DType t, const Shape& shape) {
  quiet_hdf5();
  T2_CHECK(!shape.empty(), "create_dataset '{}': row access needs rank >= 1", where(name));
  if (has(name)) remove(name);
  Handle space = make_space(shape);
  Handle lcpl = lcpl_with_parents();
  Handle ty = t == DType::string ? vlen_string_type() : Handle();
  hid_t ft = t == DType::string ? ty.id() : file_type(t);
  Handle d(H5Dcreate2(h_.id(), name.c_str(), ft, space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(d.valid(), "cannot create dataset '{}'", where(name));
}

void Group::write_rows_raw(const std::string& name, DType t, uint64_t first_row, const void* data,
                           uint64_t rows) {
  quiet_hdf5();
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle fspace(H5Dget_space(d.id()));
  Shape full = space_shape(fspace.id());
  T2_CHECK(!full.empty() && first_row + rows <= full[0], "'{}' has {} rows; cannot write rows [{}, {})",
           where(name), full.empty() ? 0 : full[0], first_row, first_row + rows);
  if (rows == 0) return;
  Shape sub = full;
  sub[0] = rows;
  std::vector<hsize_t> start(full.size(), 0), count(sub.begin(), sub.end());
  start[0] = first_row;
  H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mspace = make_space(sub);
  H5_CHECK(H5Dwrite(d.id(), mem_type(t), mspace.id(), fspace.id(), H5P_DEFAULT, data) >= 0,
           "cannot write rows of '{}'", where(name));
}

void Group::create_extendible(const std::string& name, DType t, const Shape& row_shape, uint64_t chunk_rows) {
  quiet_hdf5();
  if (has(name)) remove(name);
  Shape dims{0};
  dims.insert(dims.end(), row_shape.begin(), row_shape.end());
  Shape maxd = dims;
  maxd[0] = H5S_UNLIMITED;
  // Chunks of about 1 MiB at most: large enough for throughput, small enough for short curves.
  uint64_t row_bytes = type_size(t) * element_count(row_shape);
  chunk_rows = std::max<uint64_t>(1, std::min<uint64_t>(chunk_rows, (1u << 20) / std::max<uint64_t>(1, row_bytes)));
  std::vector<hsize_t> chunk(dims.begin(), dims.end());
  chunk[0] = chunk_rows;
  Handle space = make_space(dims, &maxd);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data());
  Handle lcpl = lcpl_with_parents();
  Handle ty = t == DType::string ? vlen_string_type() : Handle();
  hid_t ft = t == DType::string ? ty.id() : file_type(t);
  Handle d(H5Dcreate2(h_.id(), name.c_str(), ft, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT));
  H5_CHECK(d.valid(), "cannot create extendible dataset '{}'", where(name));
}

namespace {

void append_rows(hid_t d, const std::string& where, hid_t mtype, const void* data, uint64_t rows) {
  Handle fspace(H5Dget_space(d));
  Shape full = space_shape(fspace.id());
  T2_CHECK(!full.empty(), "'{}' is a scalar; cannot append", where);
  Shape grown = full;
  grown[0] += rows;
  std::vector<hsize_t> g(grown.begin(), grown.end());
  H5_CHECK(H5Dset_extent(d, g.data()) >= 0, "cannot extend '{}' (is it extendible?)", where);
  Handle fs(H5Dget_space(d));
  Shape sub = full;
  sub[0] = rows;
  std::vector<hsize_t> start(full.size(), 0), count(sub.begin(), sub.end());
  start[0] = full[0];
  H5Sselect_hyperslab(fs.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mspace = make_space(sub);
  H5_CHECK(H5Dwrite(d, mtype, mspace.id(), fs.id(), H5P_DEFAULT, data) >= 0, "cannot append to '{}'", where);
}

}  // namespace

void Group::append_raw(const std::string& name, DType t, const void* data, uint64_t rows) {
  quiet_hdf5();
  if (rows == 0) return;
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  append_rows(d.id(), where(name), mem_type(t), data, rows);
}

void Group::append_strings(const std::string& name, const std::vector<std::string>& v) {
  quiet_hdf5();
  if (v.empty()) return;
  Handle d = open_dataset(h_.id(), where(name), name, has(name));
  Handle t = vlen_string_type();
  std::vector<const char*> p(v.size());
  for (size_t i = 0; i < v.size(); ++i) p[i] = v[i].c_str();
  append_rows(d.id(), where(name), t.id(), p.data(), v.size());
}

// ---- File ---------------------------------------------------------------------------------------

namespace {

Handle strong_fapl() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  // Closing the file closes every object in it, so commit() can fsync a fully written file.
  H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  // HDF5's own file lock guards against readers of a file being written in place; t2 never does
  // that (units are renamed into place complete), and the lock fails on file systems without flock.
  H5Pset_file_locking(fapl.id(), false, true);
#endif
  return fapl;
}

}  // namespace

File::File(Handle h, std::string path) : Group(Handle(), path, "/") {
  hid_t root = H5Gopen2(h.id(), "/", H5P_DEFAULT);
  h_ = Handle(root);
  file_h_ = std::move(h);
}

File File::create(const std::string& path) {
  quiet_hdf5();
  Handle fapl = strong_fapl();
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()));
  H5_CHECK(f.valid(), "cannot create HDF5 file '{}'", path);
  return File(std::move(f), path);
}

File File::open(const std::string& path, Mode mode) {
  quiet_hdf5();
  if (!path_exists(path)) T2_FAIL_AS(UsageError, "HDF5 file '{}' does not exist", path);
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    T2_FAIL_AS(FormatError, "'{}' is not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, ...)", path);
  }
  Handle fapl = strong_fapl();
  Handle f(H5Fopen(path.c_str(), mode == Mode::read_only ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.id()));
  if (!f.valid()) T2_FAIL_AS(FormatError, "cannot open HDF5 file '{}': {}", path, reason());
  return File(std::move(f), path);
}

File File::create_atomic(const std::string& path) {
  std::string tmp = temp_path_beside(path);
  File f = create(tmp);
  f.final_path_ = path;
  return f;
}

File::File(File&& o) noexcept { *this = std::move(o); }

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    try {
      close();
    } catch (...) {
    }
    h_ = std::move(o.h_);
    file_h_ = std::move(o.file_h_);
    file_path_ = std::move(o.file_path_);
    path_ = std::move(o.path_);
    where_ = std::move(o.where_);
    final_path_ = std::move(o.final_path_);
    o.final_path_.clear();
  }
  return *this;
}

File::~File() {
  try {
    close();
  } catch (...) {
  }
}

void File::flush() {
  quiet_hdf5();
  H5_CHECK(H5Fflush(file_h_.id(), H5F_SCOPE_GLOBAL) >= 0, "cannot flush '{}'", file_path_);
}

void File::close() {
  if (file_h_.valid()) {
    h_ = Handle();
    hid_t id = file_h_.id();
    herr_t rc = H5Iis_valid(id) > 0 ? H5Fclose(id) : 0;
    file_h_ = Handle();   // the deleter sees an invalid id and skips it
    if (rc < 0) {
      std::string why = reason();
      if (!final_path_.empty()) ::unlink(file_path_.c_str());
      final_path_.clear();
      T2_FAIL("cannot close HDF5 file '{}' (HDF5: {})", file_path_, why);
    }
  }
  if (!final_path_.empty()) {  // an atomic file closed without commit: drop the partial file
    ::unlink(file_path_.c_str());
    final_path_.clear();
  }
}

void File::commit() {
  T2_CHECK(!final_path_.empty(), "commit() on '{}' which was not created with create_atomic()", file_path_);
  std::string target = final_path_;
  final_path_.clear();   // close() must keep the file
  try {
    close();
    fsync_path(file_path_);
    rename_durable(file_path_, target);
  } catch (...) {
    ::unlink(file_path_.c_str());
    throw;
  }
  file_path_ = target;
  where_ = target + ":/";
}

bool is_readable_hdf5(const std::string& path, std::string* why) {
  try {
    File f = File::open(path);
    f.children();
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

}  // namespace t2::h5
