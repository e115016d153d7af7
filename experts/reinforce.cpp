#include "experts/reinforce.h"

#include <cmath>
#include <map>

#include "core/check.h"
#include "experts/rng.h"
#include "experts/state-bytes.h"

namespace t2 {

namespace {
constexpr uint64_t kStateTag = 0x3130455346525432ull;  // "2TRFSE01"

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.below(i + 1)]);
}
}  // namespace

Baseline baseline_from_name(const std::string& n) {
  if (n == "none") return Baseline::none;
  if (n == "batch_mean") return Baseline::batch_mean;
  if (n == "group_mean") return Baseline::group_mean;
  T2_FAIL_AS(UsageError, "unknown baseline '{}' (valid: none, batch_mean, group_mean)", n);
}
KlDirection kl_direction_from_name(const std::string& n) {
  if (n == "ref_policy") return KlDirection::ref_policy;
  if (n == "policy_ref") return KlDirection::policy_ref;
  T2_FAIL_AS(UsageError, "unknown KL direction '{}' (valid: ref_policy = KL(pi_ref||pi) as the reference code, "
             "policy_ref = KL(pi||pi_ref) as the paper)", n);
}
std::string baseline_name(Baseline b) {
  return b == Baseline::none ? "none" : b == Baseline::batch_mean ? "batch_mean" : "group_mean";
}
std::string kl_direction_name(KlDirection d) { return d == KlDirection::ref_policy ? "ref_policy" : "policy_ref"; }

void reinforce_validate(const ReinforceConfig& c) {
  T2_CHECK_AS(UsageError, c.batch_size > 0, "reinforce.batch_size must be positive, got {}", c.batch_size);
  T2_CHECK_AS(UsageError, c.samples_per_prompt > 0, "reinforce.samples_per_prompt must be positive, got {}",
              c.samples_per_prompt);
  T2_CHECK_AS(UsageError, c.temperature >= 0, "reinforce.temperature must be >= 0, got {}", c.temperature);
  T2_CHECK_AS(UsageError, c.samples_per_prompt == 1 || c.temperature > 0,
              "reinforce.samples_per_prompt = {} needs temperature > 0 (greedy rollouts are identical)",
              c.samples_per_prompt);
  T2_CHECK_AS(UsageError, c.kl_coeff >= 0, "reinforce.kl_coeff must be >= 0, got {}", c.kl_coeff);
  T2_CHECK_AS(UsageError, c.eval_every > 0, "reinforce.eval_every must be positive, got {}", c.eval_every);
  optimizer_validate(c.optimizer);
}

ReinforceState reinforce_init(const ZLayout& layout, std::vector<float> z0, int64_t train_size,
                              const ReinforceConfig& c) {
  reinforce_validate(c);
  T2_CHECK(static_cast<int64_t>(z0.size()) == layout.total(), "z has {} entries, the layout {}", z0.size(),
           layout.total());
  T2_CHECK_AS(UsageError, train_size > 0, "REINFORCE needs a non-empty training set");
  ReinforceState s;
  s.layout = layout;
  s.z = std::move(z0);
  s.train_size = train_size;
  s.rng = Rng(c.seed).save();
  return s;
}

ReinforceBatch reinforce_next_batch(ReinforceState& s, const ReinforceConfig& c) {
  Rng rng = Rng::load(s.rng);
  ReinforceBatch b;
  const int64_t n = std::min(c.batch_size, s.train_size);
  while (static_cast<int64_t>(b.examples.size()) < n) {
    if (s.order.empty() || s.cursor >= static_cast<int64_t>(s.order.size())) {
      if (!s.order.empty()) s.epoch += 1;
      s.order.resize(s.train_size);
      for (int64_t i = 0; i < s.train_size; ++i) s.order[i] = i;
      shuffle(s.order, rng);
      s.cursor = 0;
    }
    b.examples.push_back(s.order[s.cursor++]);
  }
  b.rollout_seed = rng.next();
  s.rng = rng.save();
  return b;
}

std::vector<double> reinforce_advantages(const std::vector<double>& r, const std::vector<int64_t>& group_of,
                                         Baseline b) {
  std::vector<double> a = r;
  if (b == Baseline::none || r.empty()) return a;
  if (b == Baseline::batch_mean) {
    double mean = 0;
    for (double x : r) mean += x;
    mean /= static_cast<double>(r.size());
    for (auto& x : a) x -= mean;
    return a;
  }
  T2_CHECK(group_of.size() == r.size(), "group_mean baseline: {} group ids for {} rewards", group_of.size(), r.size());
  std::map<int64_t, std::pair<double, int64_t>> sums;
  for (size_t j = 0; j < r.size(); ++j) sums[group_of[j]].first += r[j], sums[group_of[j]].second += 1;
  for (size_t j = 0; j < r.size(); ++j) {
    auto& [sum, cnt] = sums[group_of[j]];
    a[j] -= sum / static_cast<double>(cnt);
  }
  return a;
}

ShardGradient shard_gradient_add(const ShardGradient& a, const ShardGradient& b) {
  if (a.grad.empty()) return b;
  if (b.grad.empty()) return a;
  T2_CHECK(a.grad.size() == b.grad.size(), "shard gradients differ in length: {} and {}", a.grad.size(), b.grad.size());
  ShardGradient s = a;
  for (size_t i = 0; i < s.grad.size(); ++i) s.grad[i] += b.grad[i];
  s.loss += b.loss, s.kl += b.kl, s.logp += b.logp, s.samples += b.samples;
  return s;
}

ReinforceState reinforce_apply(ReinforceState s, const ReinforceConfig& c, const ShardGradient& total,
                               const std::vector<double>& rewards) {
  T2_CHECK(total.grad.size() == s.z.size(), "summed gradient has {} entries, z has {}", total.grad.size(), s.z.size());
  TrainingPoint p;
  p.step = s.step;
  if (!rewards.empty()) {
    for (double r : rewards) p.reward_mean += r;
    p.reward_mean /= static_cast<double>(rewards.size());
    for (double r : rewards) p.reward_std += (r - p.reward_mean) * (r - p.reward_mean);
    p.reward_std = std::sqrt(p.reward_std / static_cast<double>(rewards.size()));
  }
  p.loss = total.loss;
  p.kl = total.kl;
  auto info = optimizer_step(c.optimizer, s.opt, s.z, total.grad);
  p.grad_norm = info.grad_norm;
  p.lr = info.lr;
  s.curve.push_back(p);
  s.step += 1;
  return s;
}

bool reinforce_done(const ReinforceState& s, const ReinforceConfig& c) { return s.step >= c.steps; }

bool reinforce_should_validate(const ReinforceState& s, const ReinforceConfig& c) {
  // s.step counts the updates done. The reference's loop validates at the end of its iterations 0, 10,
  // 20, ..., i.e. after updates 1, 11, 21, ...: never the initial z, which therefore cannot become
  // the expert. t2 also validates the final z so the last updates are never lost.
  return s.step >= 1 && ((s.step - 1) % c.eval_every == 0 || s.step == c.steps);
}

ReinforceState reinforce_record_validation(ReinforceState s, double score) {
  if (!s.curve.empty() && s.curve.back().step == s.step - 1) s.curve.back().validation = score;
  if (score > s.best_score) {
    s.best_score = score;
    s.best_step = s.step;
    s.best_z = s.z;
  }
  return s;
}

std::string reinforce_state_to_bytes(const ReinforceState& s) {
  ByteWriter w;
  w.u64(kStateTag);
  w.strs(s.layout.names);
  w.i64s(s.layout.sizes);
  w.f32s(s.z);
  w.f32s(s.opt.m);
  w.f32s(s.opt.v);
  w.i64(s.opt.t);
  w.str(s.rng);
  w.i64(s.train_size);
  w.i64s(s.order);
  w.i64(s.cursor);
  w.i64(s.epoch);
  w.i64(s.step);
  w.f64(s.best_score);
  w.i64(s.best_step);
  w.f32s(s.best_z);
  w.u64(s.curve.size());
  for (auto& p : s.curve) {
    w.i64(p.step);
    w.f64s({p.reward_mean, p.reward_std, p.loss, p.kl, p.grad_norm, p.lr, p.validation});
  }
  return w.take();
}

ReinforceState reinforce_state_from_bytes(std::string_view bytes, const std::string& what) {
  ByteReader r(bytes, what);
  r.expect_tag(kStateTag, "REINFORCE state");
  ReinforceState s;
  s.layout.names = r.strs();
  s.layout.sizes = r.i64s();
  T2_CHECK_AS(FormatError, s.layout.names.size() == s.layout.sizes.size(), "{}: {} matrix names but {} sizes", what,
              s.layout.names.size(), s.layout.sizes.size());
  s.z = r.f32s();
  s.opt.m = r.f32s();
  s.opt.v = r.f32s();
  s.opt.t = r.i64();
  s.rng = r.str();
  s.train_size = r.i64();
  s.order = r.i64s();
  s.cursor = r.i64();
  s.epoch = r.i64();
  s.step = r.i64();
  s.best_score = r.f64();
  s.best_step = r.i64();
  s.best_z = r.f32s();
  auto n = r.u64();
  T2_CHECK_AS(FormatError, n <= bytes.size(), "{}: training curve length {} is not plausible", what, n);
  for (uint64_t i = 0; i < n; ++i) {
    TrainingPoint p;
    p.step = r.i64();
    auto v = r.f64s();
    T2_CHECK_AS(FormatError, v.size() == 7, "{}: a training point has {} fields, expected 7", what, v.size());
    p.reward_mean = v[0], p.reward_std = v[1], p.loss = v[2], p.kl = v[3], p.grad_norm = v[4], p.lr = v[5];
    p.validation = v[6];
    s.curve.push_back(p);
  }
  r.expect_end();
  T2_CHECK_AS(FormatError, static_cast<int64_t>(s.z.size()) == s.layout.total(),
              "{}: z has {} entries but the layout {}", what, s.z.size(), s.layout.total());
  Rng::load(s.rng);  // validates the stream state
  return s;
}

}  // namespace t2
