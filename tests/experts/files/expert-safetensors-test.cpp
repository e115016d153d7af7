// Experts as safetensors: export -> import gives the same expert bit for bit, the file is plain
// safetensors (an independent reader in Python sees z under the model's tensor names and the
// metadata), and files that are not t2 experts are refused naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/subprocess.h"
#include "experts/expert-file.h"
#include "experts/expert-safetensors.h"
#include "tests/support/test-support.h"
#include "workers/safetensors.h"

namespace t2 {
namespace {

Expert sample_expert() {
  Expert e;
  e.layout = ZLayout{{"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"},
                     {4, 3, 5}};
  e.z = z_init(e.layout, 23);
  e.z[1] = -1.0f / 3.0f;  // a value whose float text would not survive a lossy format
  e.base_model = "t2-test/tiny@0123456789abcdef0123456789abcdef01234567";
  e.base_model_hash = "feedbeef";
  e.task = "gsm8k";
  e.config = "{\"lr\": 0.002, \"steps\": 3}";
  for (int s = 0; s < 3; ++s) {
    TrainingPoint p;
    p.step = s;
    p.reward_mean = 0.1 * s + 1.0 / 3.0;
    p.reward_std = 0.25;
    p.loss = -0.7 * s;
    p.kl = 1e-9 * s;
    p.grad_norm = 3.5;
    p.lr = 2e-3;
    if (s == 2) p.validation = 2.0 / 3.0;
    e.curve.push_back(p);
  }
  e.best_validation = 2.0 / 3.0;
  e.best_step = 2;
  return e;
}

void expect_same(const Expert& a, const Expert& b) {
  EXPECT_EQ(a.layout, b.layout);
  ASSERT_EQ(a.z.size(), b.z.size());
  EXPECT_EQ(std::memcmp(a.z.data(), b.z.data(), a.z.size() * sizeof(float)), 0);  // bit for bit
  EXPECT_EQ(a.base_model, b.base_model);
  EXPECT_EQ(a.base_model_hash, b.base_model_hash);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.best_validation, b.best_validation);
  EXPECT_EQ(a.best_step, b.best_step);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_EQ(a.curve[i].step, b.curve[i].step);
    EXPECT_EQ(a.curve[i].reward_mean, b.curve[i].reward_mean);
    EXPECT_EQ(a.curve[i].reward_std, b.curve[i].reward_std);
    EXPECT_EQ(a.curve[i].loss, b.curve[i].loss);
    EXPECT_EQ(a.curve[i].kl, b.curve[i].kl);
    EXPECT_EQ(a.curve[i].grad_norm, b.curve[i].grad_norm);
    EXPECT_EQ(a.curve[i].lr, b.curve[i].lr);
    EXPECT_EQ(std::isnan(a.curve[i].validation), std::isnan(b.curve[i].validation));
    if (!std::isnan(a.curve[i].validation)) EXPECT_EQ(a.curve[i].validation, b.curve[i].validation);
  }
}

TEST(ExpertSafetensors, ExportImportRoundTripIsExact) {
  auto dir = test::make_temp_dir("t2-expert-st");
  const auto e = sample_expert();
  expert_write(dir + "/e.h5", e);
  expert_write_safetensors(dir + "/e.safetensors", expert_read(dir + "/e.h5"));
  EXPECT_TRUE(is_safetensors_file(dir + "/e.safetensors"));
  EXPECT_FALSE(is_safetensors_file(dir + "/e.h5"));
  auto st = expert_read_safetensors(dir + "/e.safetensors");
  expect_same(st, e);
  expert_write(dir + "/back.h5", st);
  expect_same(expert_read(dir + "/back.h5"), e);
  expect_same(expert_read_any(dir + "/e.safetensors"), e);
  expect_same(expert_read_any(dir + "/back.h5"), e);
  // Same expert, same bytes.
  expert_write_safetensors(dir + "/again.safetensors", st);
  EXPECT_EQ(read_file(dir + "/again.safetensors"), read_file(dir + "/e.safetensors"));
  std::filesystem::remove_all(dir);
}

TEST(ExpertSafetensors, PlainSafetensorsUnderTheModelsTensorNames) {
  auto dir = test::make_temp_dir("t2-expert-st");
  const auto e = sample_expert();
  expert_write_safetensors(dir + "/e.safetensors", e);
  // t2's own reader, as any safetensors reader sees it.
  SafetensorsFile f(dir + "/e.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo* t = f.find("model.layers.0.mlp.up_proj.weight");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->shape, std::vector<int64_t>{3});
  EXPECT_EQ(f.metadata().at("format"), "t2-svf-expert");
  EXPECT_EQ(f.metadata().at("base_model"), e.base_model);
  EXPECT_EQ(f.metadata().at("task"), "gsm8k");
  // And an independent reader: the header parsed by hand in Python.
  const std::string script = R"(
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
md = h.pop('__metadata__')
assert md['format'] == 't2-svf-expert' and md['method'] == 'reinforce', md
assert json.loads(md['matrices']) == ['model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.up_proj.weight',
                                      'model.layers.0.mlp.down_proj.weight'], md['matrices']
assert sorted(h) == sorted(json.loads(md['matrices'])), h
t = h['model.layers.0.mlp.gate_proj.weight']
assert t['dtype'] == 'F32' and t['shape'] == [4], t
b, e = t['data_offsets']
z = struct.unpack('<4f', raw[8 + n + b:8 + n + e])
assert abs(z[1] - (-1 / 3)) < 1e-7, z
c = json.loads(md['curve'])
assert c['step'] == [0, 1, 2] and c['validation'][0] is None and abs(c['validation'][2] - 2 / 3) < 1e-15, c
print('ok')
)";
  write_file_atomic(dir + "/check.py", script);
  auto r = run_subprocess({test::python3(), dir + "/check.py", dir + "/e.safetensors"});
  EXPECT_TRUE(r.ok()) << r.describe() << r.out << r.err;
  std::filesystem::remove_all(dir);
}

TEST(ExpertSafetensors, RefusesOtherFilesNamingThem) {
  auto dir = test::make_temp_dir("t2-expert-st");
  write_safetensors_f32(dir + "/model.safetensors", {{"model.norm.weight", {{4}, {1, 2, 3, 4}}}});
  try {
    expert_read_safetensors(dir + "/model.safetensors");
    FAIL();
  } catch (const FormatError& x) {
    EXPECT_NE(std::string(x.what()).find(dir + "/model.safetensors: not a t2 SVF expert"), std::string::npos)
        << x.what();
  }
  write_file_atomic(dir + "/junk.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
  EXPECT_THROW(expert_read_any(dir + "/junk.safetensors"), FormatError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t2
