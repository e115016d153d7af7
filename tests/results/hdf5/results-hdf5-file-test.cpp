// The HDF5 wrapper: round trips of every element type, attributes, extendible datasets, row
// ranges, atomic files, error messages, and h5py (an independent reader) seeing the same values.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "results/hdf5-file.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using namespace t2;

namespace {

struct TempDir {
  std::string path = test::make_temp_dir("h5");
  ~TempDir() { fs::remove_all(path); }
};

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

TEST(Hdf5File, RoundTripsEveryTypeAndShape) {
  TempDir t;
  std::string p = t.path + "/a.h5";
  auto f32 = random_floats(6 * 7, 1);
  std::vector<double> f64 = {1.5, -2.25, 1e300, 0.1};
  std::vector<int64_t> i64 = {INT64_MIN, -1, 0, 1, INT64_MAX};
  std::vector<uint8_t> u8 = {0, 7, 255};
  std::vector<std::string> strs = {"", "alpha", "ünïcødé ✓", std::string(10000, 'x')};
  {
    auto f = h5::File::create(p);
    auto g = f.create_group("a/b/c");
    g.write("m", f32.data(), {6, 7});
    g.write("d", f64);
    g.write("i", i64);
    g.write("u", u8);
    double scalar = 3.25;
    g.write("s", &scalar, {});
    g.write_strings("text", strs);
    g.write("empty", std::vector<float>{});
    g.set_attr("name", "svf");
    g.set_attr("count", int64_t{42});
    g.set_attr("lr", 2e-3);
    g.set_attr_on("m", "layer", "mlp.up_proj");
    g.set_attr_on("m", "rank", 7);
    g.set_attr_on("m", "sigma_max", 12.5);
  }
  auto f = h5::File::open(p);
  EXPECT_TRUE(f.is_group("a/b"));
  EXPECT_FALSE(f.has("a/x/y"));
  auto g = f.open_group("a/b/c");
  auto m = g.read<float>("m");
  EXPECT_EQ(m.shape, (h5::Shape{6, 7}));
  EXPECT_EQ(m.data, f32);
  EXPECT_EQ(g.read_vector<double>("d"), f64);
  EXPECT_EQ(g.read_vector<int64_t>("i"), i64);
  EXPECT_EQ(g.read_vector<uint8_t>("u"), u8);
  EXPECT_EQ(g.read<double>("s").data, std::vector<double>{3.25});
  EXPECT_TRUE(g.read<double>("s").shape.empty());
  EXPECT_EQ(g.read_strings("text"), strs);
  EXPECT_EQ(g.read<float>("empty").shape, (h5::Shape{0}));
  EXPECT_EQ(g.dtype("m"), h5::DType::f32);
  EXPECT_EQ(g.dtype("i"), h5::DType::i64);
  EXPECT_EQ(g.dtype("u"), h5::DType::u8);
  EXPECT_EQ(g.dtype("text"), h5::DType::string);
  EXPECT_EQ(g.attr_string("name"), "svf");
  EXPECT_EQ(g.attr_int("count"), 42);
  EXPECT_DOUBLE_EQ(g.attr_double("lr"), 2e-3);
  EXPECT_DOUBLE_EQ(g.attr_double("count"), 42.0);
  EXPECT_EQ(g.attr_int_or("missing", -5), -5);
  EXPECT_EQ(g.attr_string_on("m", "layer"), "mlp.up_proj");
  EXPECT_EQ(g.attr_int_on("m", "rank"), 7);
  EXPECT_EQ(g.attr_double_on("m", "sigma_max"), 12.5);
  EXPECT_THROW(g.attr_int_on("nothing", "rank"), FormatError);
  // Numeric conversion on read: int64 read as double.
  auto as_double = g.read_vector<double>("u");
  EXPECT_EQ(as_double, (std::vector<double>{0, 7, 255}));
  EXPECT_EQ(g.children(), (std::vector<std::string>{"d", "empty", "i", "m", "s", "text", "u"}));
}

TEST(Hdf5File, ExtendibleAppendAndRowRanges) {
  TempDir t;
  std::string p = t.path + "/e.h5";
  std::vector<double> all;
  std::vector<std::string> names;
  {
    auto f = h5::File::create(p);
    f.create_extendible("curve/reward", h5::DType::f64, {}, 4);
    f.create_extendible("curve/z", h5::DType::f32, {3}, 2);
    f.create_extendible("curve/name", h5::DType::string);
    for (int k = 0; k < 5; ++k) {
      std::vector<double> rows = {k * 1.0, k + 0.5, k + 0.25};
      f.append("curve/reward", rows);
      all.insert(all.end(), rows.begin(), rows.end());
      float z[6] = {float(k), 1, 2, 3, 4, float(-k)};
      f.append("curve/z", z, 2);
      std::vector<std::string> n = {"r" + std::to_string(k)};
      f.append_strings("curve/name", n);
      names.push_back(n[0]);
    }
    f.create_dataset("U", h5::DType::f32, {10, 4});
    std::vector<float> rows(5 * 4);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i);
    f.write_rows("U", 5, rows.data(), 5);
    f.write_rows("U", 0, rows.data(), 5);
  }
  auto f = h5::File::open(p);
  EXPECT_EQ(f.read_vector<double>("curve/reward"), all);
  auto z = f.read<float>("curve/z");
  EXPECT_EQ(z.shape, (h5::Shape{10, 3}));
  EXPECT_EQ(z.data[3 * 9 + 2], -4.0f);
  EXPECT_EQ(f.read_strings("curve/name"), names);
  auto part = f.read_rows<float>("U", 6, 2);
  EXPECT_EQ(part.shape, (h5::Shape{2, 4}));
  EXPECT_EQ(part.data[0], 4.0f);
  EXPECT_EQ(part.data[7], 11.0f);
  EXPECT_THROW(f.read_rows<float>("U", 8, 3), FormatError);
}

TEST(Hdf5File, AtomicCreateAppearsOnlyOnCommit) {
  TempDir t;
  std::string p = t.path + "/x.h5";
  {
    auto f = h5::File::create_atomic(p);
    f.write("v", std::vector<int64_t>{1, 2, 3});
    EXPECT_FALSE(path_exists(p));
    EXPECT_NE(f.path(), p);
  }  // dropped without commit: neither the target nor the temp file remains
  EXPECT_FALSE(path_exists(p));
  EXPECT_TRUE(fs::is_empty(t.path));
  {
    auto f = h5::File::create_atomic(p);
    f.write("v", std::vector<int64_t>{1, 2, 3});
    f.commit();
    EXPECT_EQ(f.path(), p);
  }
  EXPECT_EQ(h5::File::open(p).read_vector<int64_t>("v"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(std::distance(fs::directory_iterator(t.path), fs::directory_iterator()), 1);
}

TEST(Hdf5File, ErrorsNameTheFileAndObject) {
  TempDir t;
  std::string p = t.path + "/bad.h5";
  write_file_atomic(p, "this is not hdf5");
  try {
    h5::File::open(p);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  std::string why;
  EXPECT_FALSE(h5::is_readable_hdf5(p, &why));
  EXPECT_THROW(h5::File::open(t.path + "/none.h5"), UsageError);
  auto f = h5::File::create(t.path + "/ok.h5");
  f.create_group("g");
  try {
    f.read<float>("g/nothing");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("ok.h5:/g/nothing"), std::string::npos) << e.what();
  }
  try {
    f.attr_int("nope");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

// h5py is an independent HDF5 reader: it must see the same values, types and attributes.
TEST(Hdf5File, H5pyReadsWhatT2Wrote) {
  if (!test::have_program(test::python3())) GTEST_SKIP() << "no /usr/bin/python3";
  TempDir t;
  std::string p = t.path + "/py.h5";
  auto v = random_floats(12, 3);
  {
    auto f = h5::File::create(p);
    f.write("g/m", v.data(), {3, 4});
    f.write("g/i", std::vector<int64_t>{-7, 9});
    f.write_strings("g/s", {"a", "ünï"});
    f.create_extendible("g/c", h5::DType::f64);
    f.append("g/c", std::vector<double>{0.5, 1.5});
    f.open_group("g").set_attr("kind", "expert");
    f.open_group("g").set_attr("n", int64_t{3});
  }
  std::string script = R"(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r')
g = f['g']
assert g['m'].dtype == np.float32 and g['m'].shape == (3, 4)
print(' '.join(repr(float(x)) for x in g['m'][...].ravel()))
assert g['i'].dtype == np.int64 and list(g['i'][...]) == [-7, 9]
s = [x.decode() if isinstance(x, bytes) else x for x in g['s'][...]]
assert s == ['a', 'ünï'], s
assert list(g['c'][...]) == [0.5, 1.5] and g['c'].maxshape == (None,)
k = g.attrs['kind']; k = k.decode() if isinstance(k, bytes) else k
assert k == 'expert' and int(g.attrs['n']) == 3
)";
  std::string sp = t.path + "/check.py";
  write_file_atomic(sp, script);
  auto r = run_subprocess({test::python3(), sp, p}, {.timeout = Seconds(60)});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  std::istringstream in(r.out);
  for (float x : v) {
    double y;
    in >> y;
    EXPECT_EQ(static_cast<float>(y), x);
  }
}
