// SVF expert benchmarks on CPU (one thread unless OMP_NUM_THREADS says otherwise). Each prints its
// ratio against a reference measured in the same run:
//   1. one REINFORCE step split into rollout / reward / scoring forward / z-gradient backward / update;
//      target: backward <= 1.5x the scoring forward.
//   2. a CEM population of 32 candidates scored in ONE batched factored forward vs candidate by
//      candidate (compose every W' densely, then a dense forward); target >= 5x.
//   3. SVD time per matrix shape.
// Usage: t2_bench_experts [--quick]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "experts/mixture.h"
#include "experts/mlp-policy.h"
#include "experts/reinforce-step.h"
#include "experts/svf-decompose.h"

using namespace t2;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename F>
double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = now();
    f();
    best = std::min(best, now() - t0);
  }
  return best;
}

std::vector<TokenSeq> prompts(int64_t n, int64_t len, int64_t vocab, uint64_t seed) {
  std::vector<TokenSeq> p(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < len; ++t) p[i].push_back(static_cast<int64_t>((seed * 31 + i * 17 + t * 7) % vocab));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("threads: %d\n", at::get_num_threads());

  // 1. REINFORCE step.
  {
    const int64_t vocab = quick ? 256 : 1024, embed = quick ? 128 : 512, width = quick ? 256 : 1024;
    MlpPolicy model(vocab, embed, width, 1);
    auto l = model.layout();
    ReinforceConfig c;
    c.batch_size = 16;
    c.samples_per_prompt = 2;
    c.temperature = 1.0;
    c.max_new_tokens = 32;
    c.baseline = Baseline::group_mean;
    auto z = z_init(l, 1);
    auto ps = prompts(c.batch_size, 8, vocab, 3);
    Rollouts ro;
    double t_roll = best_of(2, [&] { ro = reinforce_rollout(model, z, ps, c, 5); });
    std::vector<double> rewards;
    double t_reward = best_of(3, [&] {
      rewards.clear();
      for (auto& comp : ro.completions) {
        double hit = 0;
        for (auto t : comp) hit += t < vocab / 4;
        rewards.push_back(hit / std::max<size_t>(1, comp.size()));
      }
    });
    auto adv = reinforce_advantages(rewards, ro.group_of, c.baseline);
    torch::Tensor loss, zt;
    double t_fwd = 1e30, t_bwd = 1e30;
    for (int r = 0; r < 3; ++r) {
      zt = torch::tensor(z).requires_grad_(true);
      double t0 = now();
      model.adapt_z(zt);
      auto lsm = model.completion_log_softmax(ro.prompts, ro.completions);
      loss = reinforce_loss(lsm, ro.completions, adv, static_cast<int64_t>(adv.size()), 0.0, KlDirection::ref_policy,
                            torch::Tensor()).loss;
      double t1 = now();
      auto g = torch::autograd::grad({loss}, {zt})[0];
      double t2 = now();
      t_fwd = std::min(t_fwd, t1 - t0);
      t_bwd = std::min(t_bwd, t2 - t1);
    }
    ShardGradient sg = reinforce_shard_gradient(model, z, ro.prompts, ro.completions, adv,
                                                static_cast<int64_t>(adv.size()), c);
    auto state = reinforce_init(l, z, 64, c);
    double t_upd = best_of(3, [&] { reinforce_apply(state, c, sg, rewards); });
    std::printf("reinforce step (vocab %lld, width %lld, %zu samples x %lld new tokens, %lld z parameters):\n",
                static_cast<long long>(vocab), static_cast<long long>(width), ro.completions.size(),
                static_cast<long long>(c.max_new_tokens), static_cast<long long>(l.total()));
    std::printf("  rollout %.4f s | reward %.6f s | scoring forward %.4f s | z-gradient backward %.4f s | update "
                "%.6f s\n", t_roll, t_reward, t_fwd, t_bwd, t_upd);
    std::printf("  ratio backward / scoring forward = %.2f (target <= 1.5)\n", t_bwd / t_fwd);
  }

  // 2. Population of 32 in one batched forward vs candidate by candidate.
  {
    torch::NoGradGuard no_grad;
    const int64_t vocab = quick ? 512 : 1024, embed = quick ? 256 : 512, width = quick ? 512 : 1024;
    MlpPolicy model(vocab, embed, width, 2);
    auto l = model.layout();
    std::vector<std::vector<float>> experts{z_init(l, 1, 0.1, 0.5), z_init(l, 2, 0.1, 0.5), z_init(l, 3, 0.1, 0.5)};
    const int64_t P = 32, shots = 10;
    auto shot_prompts = prompts(shots, 6, vocab, 7);
    auto shot_answers = prompts(shots, 8, vocab, 8);
    std::vector<torch::Tensor> rows;
    for (int64_t p = 0; p < P; ++p) {
      std::vector<double> alpha(3 * l.names.size());
      for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = std::fmod(0.37 * (p + 1) * (i + 2), 1.0);
      rows.push_back(torch::tensor(mixture_multipliers(experts, l, alpha, true, MixingMode::multiplier)));
    }
    auto m = torch::stack(rows);
    std::vector<TokenSeq> all_p, all_a;
    std::vector<int64_t> seq_rows;
    for (int64_t p = 0; p < P; ++p)
      for (int64_t s = 0; s < shots; ++s) all_p.push_back(shot_prompts[s]), all_a.push_back(shot_answers[s]);
    // One row of multipliers per sequence: candidate p owns sequences p*shots .. p*shots+shots-1.
    auto m_seq = m.repeat_interleave(shots, 0);
    torch::Tensor batched;
    double t_batched = best_of(2, [&] {
      model.adapt_multipliers(m_seq);
      batched = model.completion_log_softmax(all_p, all_a);
    });
    std::vector<torch::Tensor> single(P);
    double t_single = best_of(1, [&] {
      for (int64_t p = 0; p < P; ++p) {
        std::vector<torch::Tensor> Wp;
        for (size_t i = 0; i < l.names.size(); ++i)
          Wp.push_back(svf_compose(model.factors()[i], m[p].narrow(0, l.offset(i), l.sizes[i]), torch::kFloat32));
        model.adapt_dense(Wp);
        single[p] = model.completion_log_softmax(shot_prompts, shot_answers);
      }
    });
    double maxdiff = 0;
    for (int64_t p = 0; p < P; ++p)
      maxdiff = std::max(maxdiff, (batched.narrow(0, p * shots, shots) - single[p]).abs().max().item<double>());
    std::printf("population of %lld candidates x %lld shots (matrices", static_cast<long long>(P),
                static_cast<long long>(shots));
    for (auto& f : model.factors())
      std::printf(" %lldx%lld", static_cast<long long>(f.U.size(0)), static_cast<long long>(f.V.size(0)));
    std::printf("):\n  batched factored %.4f s | candidate by candidate (compose + dense) %.4f s | speed-up %.2fx "
                "(target >= 5) | max |diff| %.2e\n", t_batched, t_single, t_single / t_batched, maxdiff);
  }

  // 3. Decomposition time per matrix shape.
  {
    std::vector<std::pair<int64_t, int64_t>> shapes{{256, 256}, {512, 512}, {1024, 512}, {1024, 1024}};
    if (!quick) shapes.push_back({2816, 1024});
    std::printf("SVD (fp32, reduced) per matrix shape:\n");
    for (auto [r, c] : shapes) {
      auto W = torch::randn({r, c});
      double t = best_of(quick ? 1 : 2, [&] { svf_decompose(W); });
      double t64 = best_of(1, [&] { svf_decompose(W, true); });
      std::printf("  %5lld x %-5lld  fp32 %.4f s  fp64 %.4f s\n", static_cast<long long>(r),
                  static_cast<long long>(c), t, t64);
    }
  }
  return 0;
}
