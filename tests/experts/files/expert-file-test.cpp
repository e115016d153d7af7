// Expert files: round trip, h5py reads what t2 wrote, compatibility checks, errors naming the file.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "core/files.h"
#include "experts/expert-file.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

Expert sample_expert() {
  Expert e;
  e.layout = ZLayout{{"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"}, {4, 3}};
  e.z = z_init(e.layout, 17);
  e.base_model = "tiny";
  e.base_model_hash = "0123456789abcdef";
  e.task = "gsm8k";
  e.config = "optimizer: adam\nlr: 0.002\n";
  for (int s = 0; s < 3; ++s) {
    TrainingPoint p;
    p.step = s;
    p.reward_mean = 0.1 * s;
    p.lr = 2e-3;
    if (s == 2) p.validation = 0.5;
    e.curve.push_back(p);
  }
  e.best_validation = 0.5;
  e.best_step = 2;
  return e;
}

TEST(ExpertFile, RoundTripAndH5pyReadsIt) {
  auto dir = test::make_temp_dir("t2-expert");
  auto path = dir + "/e.h5";
  auto e = sample_expert();
  expert_write(path, e);
  auto r = expert_read(path);
  EXPECT_EQ(r.layout, e.layout);
  EXPECT_EQ(r.z, e.z);
  EXPECT_EQ(r.task, "gsm8k");
  EXPECT_EQ(r.config, e.config);
  ASSERT_EQ(r.curve.size(), 3u);
  EXPECT_TRUE(std::isnan(r.curve[0].validation));
  EXPECT_EQ(r.curve[2].validation, 0.5);
  EXPECT_EQ(r.best_step, 2);
  // An independent reader: h5py.
  auto script = dir + "/read.py";
  write_file_atomic(script, "import h5py, sys\nf = h5py.File(sys.argv[1], 'r')\n"
                            "print(f.attrs['task'], len(f['z/model.layers.0.mlp.up_proj']), "
                            "'%.6f' % f['z/model.layers.0.mlp.gate_proj'][0], list(f['matrices/sizes'][:]))\n");
  auto out = run_subprocess({test::python3(), script, path});
  ASSERT_TRUE(out.ok()) << out.err;
  EXPECT_EQ(out.out, fmt::format("gsm8k 3 {:.6f} [4, 3]\n", e.z[0]));
  std::filesystem::remove_all(dir);
}

TEST(ExpertFile, CompatibilityChecksNameTheMismatch) {
  auto e = sample_expert();
  EXPECT_NO_THROW(expert_check_compatible(e, "e.h5", e.layout, e.base_model_hash));
  auto other = e.layout;
  other.sizes[1] = 5;
  try {
    expert_check_compatible(e, "e.h5", other, e.base_model_hash);
    FAIL();
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("model.layers.0.mlp.up_proj"), std::string::npos) << err.what();
  }
  EXPECT_THROW(expert_check_compatible(e, "e.h5", e.layout, "ffffffffffffffff"), UsageError);
}

TEST(ExpertFile, RejectsOtherFiles) {
  auto dir = test::make_temp_dir("t2-expert");
  write_file_atomic(dir + "/x.h5", "not hdf5 at all");
  EXPECT_THROW(expert_read(dir + "/x.h5"), FormatError);
  std::filesystem::remove_all(dir);
}

TEST(ExpertFile, ShowAndDiff) {
  auto a = sample_expert(), b = sample_expert();
  b.z[5] += 0.25f;
  auto show = expert_show("a.h5", a);
  EXPECT_NE(show.find("model.layers.0.mlp.gate_proj"), std::string::npos);
  auto d = expert_diff("a.h5", a, "b.h5", b);
  EXPECT_NE(d.find("0.250000"), std::string::npos) << d;
}

}  // namespace
}  // namespace t2
