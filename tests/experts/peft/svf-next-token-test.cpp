// SVF with the next-token objective (Table 4 row 4) on the fixture transformer: the shards' gradients
// add up to the batch gradient, which matches central differences of the loss in z, and training z
// with the shared optimizer lowers the loss beyond seed noise.
#include <gtest/gtest.h>

#include <cmath>

#include "experts/decompose.h"
#include "experts/optimizer.h"
#include "experts/svf-next-token.h"
#include "experts/transformer-policy.h"
#include "tests/workers/runtime/runtime-fixtures.h"
#include "workers/model.h"

namespace t2 {
namespace {

std::string fixture_with_svd() {
  auto dir = test::make_fixture("svf-nt-llama", {"--family", "llama", "--seed", "51", "--heads", "4", "--kv-heads", "2",
                                                 "--vocab", "64"});
  DecomposeOptions o;
  o.out_dir = dir + "/t2-svd";
  o.fp64 = true;
  decompose_model(dir, o);
  return dir;
}

void batch(std::vector<TokenSeq>& p, std::vector<TokenSeq>& s, int64_t& tokens) {
  for (uint32_t i = 0; i < 4; ++i) {
    auto a = test::some_ids(4, 64, 10 + i), b = test::some_ids(5, 64, 20 + i);
    p.emplace_back(a.begin(), a.end());
    s.emplace_back(b.begin(), b.end());
    tokens += static_cast<int64_t>(b.size());
  }
}

TEST(SvfNextToken, ShardsAddUpAndMatchFiniteDifferences) {
  auto dir = fixture_with_svd();
  auto m = Model::load(dir, {});
  TransformerPolicy pol(*m, dir + "/t2-svd");
  std::vector<TokenSeq> p, s;
  int64_t n = 0;
  batch(p, s, n);
  auto z = z_init(pol.layout(), 3, 0.1, 0.5);
  auto whole = svf_next_token_gradient(pol, z, p, s, n);
  auto a = svf_next_token_gradient(pol, z, {p[0], p[1]}, {s[0], s[1]}, n);
  auto b = svf_next_token_gradient(pol, z, {p[2], p[3]}, {s[2], s[3]}, n);
  double gmax = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    EXPECT_NEAR(a.grad[i] + b.grad[i], whole.grad[i], 1e-5);
    gmax = std::max(gmax, static_cast<double>(std::abs(whole.grad[i])));
  }
  EXPECT_GT(gmax, 1e-4);
  EXPECT_NEAR(a.loss + b.loss, whole.loss, 1e-6);
  std::vector<size_t> idx(z.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(),
                    [&](size_t x, size_t y) { return std::abs(whole.grad[x]) > std::abs(whole.grad[y]); });
  for (int k = 0; k < 3; ++k) {
    const size_t i = idx[static_cast<size_t>(k)];
    const float h = 1e-2f;
    auto zp = z, zm = z;
    zp[i] += h;
    zm[i] -= h;
    const double fd = (svf_next_token_gradient(pol, zp, p, s, n).loss - svf_next_token_gradient(pol, zm, p, s, n).loss) / (2 * h);
    EXPECT_NEAR(whole.grad[i], fd, 2e-2 * std::max(1e-3, std::abs(fd))) << i;
  }
}

TEST(SvfNextToken, TrainingLowersTheLossBeyondSeedNoise) {
  auto dir = fixture_with_svd();
  auto m = Model::load(dir, {});
  TransformerPolicy pol(*m, dir + "/t2-svd");
  std::vector<TokenSeq> p, s;
  int64_t n = 0;
  batch(p, s, n);
  OptimizerConfig o;
  o.lr = 5e-2;
  o.clip_norm = 1.0;
  std::vector<double> start, end;
  for (uint64_t seed : {1, 2, 3}) {
    auto z = z_init(pol.layout(), seed);
    OptimizerState st;
    st.m.assign(z.size(), 0.f);
    st.v.assign(z.size(), 0.f);
    start.push_back(svf_next_token_gradient(pol, z, p, s, n).loss);
    for (int k = 0; k < 25; ++k) optimizer_step(o, st, z, svf_next_token_gradient(pol, z, p, s, n).grad);
    end.push_back(svf_next_token_gradient(pol, z, p, s, n).loss);
  }
  double ms = 0, me = 0, sd = 0;
  for (int i = 0; i < 3; ++i) {
    ms += start[i] / 3;
    me += end[i] / 3;
  }
  for (double e : end) sd += (e - me) * (e - me) / 2;
  sd = std::sqrt(sd);
  std::cout << "next-token SVF: loss " << ms << " -> " << me << " (seed sd " << sd << ")\n";
  EXPECT_GT(ms - me, 10 * sd);
  EXPECT_GT(ms - me, 0.05);
}

}  // namespace
}  // namespace t2
