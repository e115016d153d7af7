// The z optimizers against torch.optim (Debian's python3-torch) on the same gradient sequence:
// Adam + clip_grad_norm_ (the reference code) and AdamW + CosineAnnealingLR (the paper).
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "core/files.h"
#include "experts/optimizer.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

std::vector<float> grad_at(int step, size_t n) {
  std::vector<float> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = static_cast<float>(std::sin(0.7 * step + 1.3 * i) * (1 + i % 3));
  return g;
}

std::vector<double> run_python(const std::string& script) {
  auto dir = test::make_temp_dir("t2-opt");
  write_file_atomic(dir + "/ref.py", script);
  SubprocessOptions o;
  o.timeout = Seconds(120);
  auto r = run_subprocess({test::python3(), dir + "/ref.py"}, o);
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  std::vector<double> out;
  std::istringstream is(r.out);
  double v;
  while (is >> v) out.push_back(v);
  return out;
}

void compare(const OptimizerConfig& c, const std::string& py_opt, const std::string& py_sched) {
  const size_t n = 7;
  const int steps = 6;
  std::vector<float> z(n);
  for (size_t i = 0; i < n; ++i) z[i] = 0.1f + 0.01f * i;
  std::ostringstream py;
  py << "import math, torch\n"
     << "z = torch.nn.Parameter(torch.tensor([" ;
  for (size_t i = 0; i < n; ++i) py << (i ? "," : "") << fmt::format("{:.9g}", z[i]);
  py << "], dtype=torch.float32))\n"
     << "opt = " << py_opt << "\n" << "sched = " << py_sched << "\n"
     << "for s in range(" << steps << "):\n"
     << "    z.grad = torch.tensor([math.sin(0.7*s + 1.3*i) * (1 + i % 3) for i in range(" << n
     << ")], dtype=torch.float32)\n"
     << "    torch.nn.utils.clip_grad_norm_([z], " << c.clip_norm << ")\n"
     << "    opt.step()\n"
     << "    if sched is not None: sched.step()\n"
     << "print(' '.join(repr(float(v)) for v in z.detach()))\n";
  auto ref = run_python(py.str());
  ASSERT_EQ(ref.size(), n);
  OptimizerState s;
  for (int step = 0; step < steps; ++step) optimizer_step(c, s, z, grad_at(step, n));
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(z[i], ref[i], 1e-6 + 1e-5 * std::abs(ref[i])) << "entry " << i;
}

TEST(Optimizer, AdamWithClipMatchesTorch) {
  OptimizerConfig c;  // reference: Adam lr 2e-3, clip 1e-3
  c.lr = 0.05;        // a larger step makes differences visible
  compare(c, "torch.optim.Adam([z], lr=0.05)", "None");
}

TEST(Optimizer, AdamWCosineMatchesTorch) {
  auto c = optimizer_paper_defaults(6);
  c.lr = 0.05;
  c.clip_norm = 0.5;
  compare(c, "torch.optim.AdamW([z], lr=0.05, weight_decay=0.01)",
          "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.0)");
}

TEST(Optimizer, RejectsUnknownKind) {
  OptimizerConfig c;
  c.kind = "sgd";
  EXPECT_THROW(optimizer_validate(c), UsageError);
}

}  // namespace
}  // namespace t2
