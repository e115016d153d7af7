// SVF expert benchmarks on CPU (one thread unless OMP_NUM_THREADS says otherwise). Each prints its
// ratio against a reference measured in the same run:
//   1. one REINFORCE step split into rollout / reward / scoring forward / z-gradient backward / update;
//      target: backward <= 1.5x the scoring forward. On the small SVF policy (MlpPolicy) and on the
//      runtime's transformer (TransformerPolicy over a random Llama-shaped checkpoint).
//   2. a CEM population of 32 candidates scored in ONE batched factored forward (one row of
//      multipliers per sequence) vs candidate by candidate (compose every W' densely, then a dense
//      forward), with the cost model's bound on that speed-up; and on the transformer, the population
//      GENERATED in one batch (what CEM does: workers/work-executor.cpp do_cem) vs candidate by
//      candidate; target >= 5x.
//   3. SVD time per matrix shape.
// Times are the best of a few runs in wall-clock seconds; the population also prints thread CPU time
// (immune to other processes on a shared machine, but blind to page-fault stalls of fresh memory).
// Usage: t2_bench_experts [--quick] [--no-transformer] [--population-only] [--device cpu|cuda] [--dtype D]
// (--device cuda runs only the transformer's populations, as scripts/gpu-check does: there a candidate's
// 10-row steps are bound by kernel launches and weight reads, which the 320-row batch pays once.)
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "experts/decompose.h"
#include "experts/mixture.h"
#include "experts/mlp-policy.h"
#include "experts/reinforce-step.h"
#include "experts/svf-compose.h"
#include "experts/svf-decompose.h"
#include "experts/transformer-policy.h"
#include "bench/support/random-llama.h"
#include "workers/model.h"
#include "workers/generation.h"

using namespace t2;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

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

struct Timing {
  double wall = 1e30, cpu = 1e30;
};
template <typename F>
Timing best_of_both(int reps, F&& f) {
  Timing t;
  for (int r = 0; r < reps; ++r) {
    double w0 = now(), c0 = cpu_now();
    f();
    t.wall = std::min(t.wall, now() - w0);
    t.cpu = std::min(t.cpu, cpu_now() - c0);
  }
  return t;
}

std::vector<TokenSeq> prompts(int64_t n, int64_t len, int64_t vocab, uint64_t seed) {
  std::vector<TokenSeq> p(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < len; ++t) p[i].push_back(static_cast<int64_t>((seed * 31 + i * 17 + t * 7) % vocab));
  return p;
}


// Rollout / reward / scoring forward / z-gradient backward / update of one REINFORCE step.
void reinforce_step_split(const char* what, PolicyModel& model, const ReinforceConfig& c, int64_t prompt_len) {
  auto l = model.layout();
  const int64_t vocab = model.vocab_size();
  auto z = z_init(l, 1);
  auto ps = prompts(c.batch_size, prompt_len, vocab, 3);
  Rollouts ro;
  double t_roll = best_of(2, [&] { ro = reinforce_rollout(model, z, ps, c, 5); });
  std::vector<double> rewards;
  double t_reward = best_of(3, [&] {
    rewards.clear();
    for (auto& comp : ro.completions) {
      double hit = 0;
      for (auto t : comp) hit += t < vocab / 4;
      rewards.push_back(hit / static_cast<double>(std::max<size_t>(1, comp.size())));
    }
  });
  auto adv = reinforce_advantages(rewards, ro.group_of, c.baseline);
  double t_fwd = 1e30, t_bwd = 1e30;
  for (int r = 0; r < 3; ++r) {
    auto zt = torch::tensor(z).requires_grad_(true);
    double t0 = now();
    model.adapt_z(zt);
    auto lsm = model.completion_log_softmax(ro.prompts, ro.completions);
    auto loss = reinforce_loss(lsm, ro.completions, adv, static_cast<int64_t>(adv.size()), 0.0,
                               KlDirection::ref_policy, torch::Tensor()).loss;
    double t1 = now();
    auto g = torch::autograd::grad({loss}, {zt})[0];
    double t2 = now();
    t_fwd = std::min(t_fwd, t1 - t0);
    t_bwd = std::min(t_bwd, t2 - t1);
    model.adapt_base();
  }
  ShardGradient sg = reinforce_shard_gradient(model, z, ro.prompts, ro.completions, adv,
                                              static_cast<int64_t>(adv.size()), c);
  auto state = reinforce_init(l, z, 64, c);
  double t_upd = best_of(3, [&] { reinforce_apply(state, c, sg, rewards); });
  int64_t tokens = 0;
  for (auto& comp : ro.completions) tokens += static_cast<int64_t>(comp.size());
  std::printf("reinforce step on %s (%zu samples, %lld generated tokens, %lld z parameters):\n", what,
              ro.completions.size(), static_cast<long long>(tokens), static_cast<long long>(l.total()));
  std::printf("  rollout %.4f s | reward %.6f s | scoring forward %.4f s | z-gradient backward %.4f s | update "
              "%.6f s\n", t_roll, t_reward, t_fwd, t_bwd, t_upd);
  std::printf("  ratio z-gradient backward / scoring forward = %.2f (target <= 1.5)\n", t_bwd / t_fwd);
}



// Mixture multipliers of P candidates over 3 random experts: [P, total].
torch::Tensor population(const ZLayout& l, int64_t P) {
  std::vector<std::vector<float>> experts{z_init(l, 1, 0.1, 0.5), z_init(l, 2, 0.1, 0.5), z_init(l, 3, 0.1, 0.5)};
  std::vector<torch::Tensor> rows;
  for (int64_t p = 0; p < P; ++p) {
    std::vector<double> alpha(3 * l.names.size());
    for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = std::fmod(0.37 * static_cast<double>((p + 1) * (i + 2)), 1.0);
    rows.push_back(torch::tensor(mixture_multipliers(experts, l, alpha, true, MixingMode::multiplier)));
  }
  return torch::stack(rows);
}

// The REINFORCE step both policies are timed on: 16 prompts x 2 samples, 32 new tokens.
ReinforceConfig step_config() {
  ReinforceConfig c;
  c.batch_size = 16;
  c.samples_per_prompt = 2;
  c.temperature = 1.0;
  c.max_new_tokens = 32;
  c.baseline = Baseline::group_mean;
  return c;
}

void print_population(const char* what, int64_t P, int64_t shots, const Timing& batched, const Timing& single,
                      double maxdiff) {
  std::printf("population of %lld candidates x %lld shots on %s:\n", static_cast<long long>(P),
              static_cast<long long>(shots), what);
  std::printf("  batched factored (one forward, per-sequence scales) %.4f s | candidate by candidate (compose + dense) "
              "%.4f s | speed-up %.2fx (target >= 5) | max |diff| %.2e\n", batched.wall, single.wall,
              single.wall / batched.wall, maxdiff);
  std::printf("  thread CPU time: batched %.4f s | candidate by candidate %.4f s | speed-up %.2fx\n", batched.cpu,
              single.cpu, single.cpu / batched.cpu);
}

// Population `m` ([P, total] multipliers) scored on the shots in ONE batched forward of `pol` (one
// multiplier row per sequence: candidate p owns sequences p*shots .. p*shots+shots-1), timed against
// `single(p)`, candidate p's log-softmax rows computed with its W' composed densely; prints both and
// their largest difference.
void bench_population(const char* what, PolicyModel& pol, const torch::Tensor& m,
                      const std::vector<TokenSeq>& shot_prompts, const std::vector<TokenSeq>& shot_answers,
                      const std::function<torch::Tensor(int64_t p)>& single) {
  torch::NoGradGuard no_grad;
  const int64_t P = m.size(0), shots = static_cast<int64_t>(shot_prompts.size());
  std::vector<TokenSeq> all_p, all_a;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s < shots; ++s) all_p.push_back(shot_prompts[s]), all_a.push_back(shot_answers[s]);
  auto m_seq = m.repeat_interleave(shots, 0);
  torch::Tensor batched;
  Timing t_batched = best_of_both(3, [&] {
    pol.adapt_multipliers(m_seq);
    batched = pol.completion_log_softmax(all_p, all_a).cpu();  // on a GPU: waits for the result
    pol.adapt_base();
  });
  std::vector<torch::Tensor> one(P);
  Timing t_single = best_of_both(1, [&] {
    for (int64_t p = 0; p < P; ++p) one[p] = single(p).cpu();
  });
  double maxdiff = 0;
  for (int64_t p = 0; p < P; ++p)
    maxdiff = std::max(maxdiff, (batched.narrow(0, p * shots, shots) - one[p]).abs().max().item<double>());
  print_population(what, P, shots, t_batched, t_single, maxdiff);
}

// The scoring population's arithmetic (multiply-adds of the linear layers; attention scores and
// element-wise work left out, they are the same in both ways). Candidate by candidate composes every
// adapted W' = U·diag(σ')·Vᵀ (out·in·rank each) and runs the shots densely; the batch runs them with
// the factored product x·V·diag(σ')·Uᵀ (rank·(out+in) per token instead of out·in). Every candidate's
// tokens go through the model either way, so batching can save at most the composition: the bound
// printed is what a perfect implementation of each way could reach.
struct PopulationCost {
  double compose = 0;   // composing every adapted W' of one candidate
  double dense = 0;     // one token through the linear layers with dense weights
  double factored = 0;  // the same with the adapted layers factored
  double head = 0;      // one token's vocabulary projection
};

PopulationCost population_cost(Model& model, const TransformerPolicy& pol) {
  std::map<std::string, const SvfFactors*> adapted;
  const auto l = pol.layout();
  for (size_t i = 0; i < l.names.size(); ++i) adapted[l.names[i]] = &pol.shard().factors[i];
  PopulationCost c;
  for (const auto& li : model.linear_infos()) {
    const double out = static_cast<double>(li.out_local), in = static_cast<double>(li.in_local);
    c.dense += out * in;
    auto it = adapted.find(li.name);
    if (it == adapted.end()) {
      c.factored += out * in;
    } else {
      const double r = static_cast<double>(it->second->rank());
      c.factored += r * (out + in);
      c.compose += out * in * r;
    }
  }
  c.head = static_cast<double>(model.config().vocab_size) * static_cast<double>(model.config().hidden_size);
  return c;
}

void print_population_cost(Model& model, const TransformerPolicy& pol, int64_t shots, int64_t prompt_len,
                           int64_t answer_len) {
  const PopulationCost c = population_cost(model, pol);
  const double tokens = static_cast<double>(shots * (prompt_len + answer_len)), scored = static_cast<double>(shots * answer_len);
  const double single = c.compose + tokens * c.dense + scored * c.head, batched = tokens * c.factored + scored * c.head;
  std::printf("  cost model per candidate (multiply-adds): compose %.1f M + dense forward %.1f M = %.1f M | batched "
              "factored forward %.1f M | bound on the speed-up %.2fx\n",
              c.compose / 1e6, (tokens * c.dense + scored * c.head) / 1e6, single / 1e6, batched / 1e6, single / batched);
}

// Single-thread sgemm rate (FLOP/s by thread CPU time) of a 1024^3 product: the rate the cost model
// grants a perfect implementation.
double sgemm_flops() {
  torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::mm(a, b);
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const double c0 = cpu_now();
    torch::mm(a, b);
    best = std::max(best, 2.0 * 1024 * 1024 * 1024 / (cpu_now() - c0));
  }
  return best;
}

// CEM's own path (workers/work-executor.cpp do_cem): every candidate x every shot GENERATED in one
// batch, each row with its candidate's multipliers, vs candidate by candidate (compose W', then
// generate the shots densely). Decode steps of a few rows are bound by reading the weights and by
// per-step overhead, which the batch pays once for all candidates.
void bench_population_generate(Model& model, TransformerPolicy& pol, const torch::Tensor& m,
                               const std::vector<std::vector<int32_t>>& shot_prompts, int new_tokens) {
  torch::NoGradGuard no_grad;
  const auto l = pol.layout();
  const int64_t P = m.size(0), shots = static_cast<int64_t>(shot_prompts.size());
  GenerateOptions go;
  go.max_new_tokens = new_tokens;
  go.use_config_eos = false;
  std::vector<std::vector<int32_t>> all;
  for (int64_t p = 0; p < P; ++p) all.insert(all.end(), shot_prompts.begin(), shot_prompts.end());
  auto m_seq = m.repeat_interleave(shots, 0);
  std::vector<Generation> batched;
  Timing t_batched = best_of_both(2, [&] {
    pol.adapt_multipliers(m_seq);
    batched = pol.generate_full(all, go);
    pol.adapt_base();
  });
  std::vector<torch::Tensor> originals;
  for (auto& n : l.names) originals.push_back(model.weight(n).clone());
  std::vector<std::vector<Generation>> one(static_cast<size_t>(P));
  Timing t_single = best_of_both(1, [&] {
    for (int64_t p = 0; p < P; ++p) {
      for (size_t i = 0; i < l.names.size(); ++i)
        model.set_weight(l.names[i], svf_compose(pol.shard().factors[i],
                                                 m[p].narrow(0, l.offset(i), l.sizes[i]).to(model.device()),
                                                 torch::kFloat32));
      one[static_cast<size_t>(p)] = model.generate(shot_prompts, go);
    }
  });
  for (size_t i = 0; i < l.names.size(); ++i) model.set_weight(l.names[i], originals[i]);
  int64_t same = 0;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s < shots; ++s)
      same += batched[static_cast<size_t>(p * shots + s)].ids == one[static_cast<size_t>(p)][static_cast<size_t>(s)].ids;
  std::printf("population of %lld candidates x %lld shots GENERATED (%d new tokens, greedy; CEM's path):\n",
              static_cast<long long>(P), static_cast<long long>(shots), new_tokens);
  std::printf("  batched factored (one generate of %lld rows) %.4f s | candidate by candidate (compose + dense "
              "generate of %lld rows) %.4f s | speed-up %.2fx (target >= 5) | identical answers %lld / %lld\n",
              static_cast<long long>(P * shots), t_batched.wall, static_cast<long long>(shots), t_single.wall,
              t_single.wall / t_batched.wall, static_cast<long long>(same), static_cast<long long>(P * shots));
  std::printf("  thread CPU time: batched %.4f s | candidate by candidate %.4f s | speed-up %.2fx\n", t_batched.cpu,
              t_single.cpu, t_single.cpu / t_batched.cpu);
  // The cost model of generation: every row runs its prompt and new_tokens - 1 generated tokens
  // through the linear layers and new_tokens vocabulary projections, factored in the batch, dense
  // (after the composition) candidate by candidate. The batch at the sgemm rate is the fastest it can
  // be; candidate by candidate is taken as measured (its 10-row steps are per-op overhead, not
  // arithmetic), so the bound is what batching could reach against the baseline as it runs.
  if (!model.device().is_cpu()) return;  // the cost model below is the CPU's (single-thread sgemm)
  const PopulationCost c = population_cost(model, pol);
  int64_t prompt_tokens = 0;
  for (const auto& p : shot_prompts) prompt_tokens += static_cast<int64_t>(p.size());
  const double rows_tokens = static_cast<double>(prompt_tokens + shots * (new_tokens - 1));
  const double batched_macs = static_cast<double>(P) * (rows_tokens * c.factored + shots * new_tokens * c.head);
  const double single_macs =
      static_cast<double>(P) * (c.compose + rows_tokens * c.dense + shots * new_tokens * c.head);
  const double rate = sgemm_flops();
  const double batched_floor = 2 * batched_macs / rate, single_floor = 2 * single_macs / rate;
  std::printf("  cost model (multiply-adds at the sgemm rate, %.0f GFLOP/s): batched %.0f M = %.4f s, candidate by "
              "candidate %.0f M = %.4f s | bound on the speed-up against the measured candidate by candidate "
              "%.2fx (batched at %.2fx its floor)\n",
              rate / 1e9, batched_macs / 1e6, batched_floor, single_macs / 1e6, single_floor,
              t_single.cpu / batched_floor, t_batched.cpu / batched_floor);
}

}  // namespace

int run(int argc, char** argv) {
  bool quick = false, transformer = true, population_only = false;
  LoadOptions load;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--no-transformer") == 0) transformer = false;
    else if (std::strcmp(argv[i], "--population-only") == 0) population_only = true;
    else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) load.device = argv[++i];
    else if (std::strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) load.dtype = argv[++i];
    else {
      std::fprintf(stderr, "usage: t2_bench_experts [--quick] [--no-transformer] [--population-only] [--device "
                           "cpu|cuda] [--dtype auto|float32|bfloat16]\n");
      return 2;
    }
  }
  const bool on_cpu = load.device == "cpu";
  if (!on_cpu) population_only = true;  // the small policy and the SVD table are CPU benchmarks
  std::printf("threads: %d, device %s\n", at::get_num_threads(), load.device.c_str());

  // 1. REINFORCE step on the small SVF policy.
  if (!population_only) {
    const int64_t vocab = quick ? 256 : 1024, embed = quick ? 128 : 512, width = quick ? 256 : 1024;
    MlpPolicy model(vocab, embed, width, 1);
    ReinforceConfig c = step_config();
    char what[128];
    std::snprintf(what, sizeof what, "MlpPolicy (vocab %lld, width %lld)", static_cast<long long>(vocab),
                  static_cast<long long>(width));
    reinforce_step_split(what, model, c, 8);
  }

  // 2. Population of 32 in one batched forward vs candidate by candidate, on the small policy: the
  //    shots' log-softmax rows only (the setting of CEM scoring short answers).
  if (!population_only) {
    torch::NoGradGuard no_grad;
    const int64_t vocab = quick ? 512 : 1024, embed = quick ? 256 : 512, width = quick ? 512 : 1024;
    MlpPolicy model(vocab, embed, width, 2);
    auto l = model.layout();
    const int64_t P = 32, shots = 10;
    auto m = population(l, P);
    auto shot_prompts = prompts(shots, 6, vocab, 7);
    auto shot_answers = prompts(shots, 8, vocab, 8);
    std::string what = "MlpPolicy (matrices";
    for (auto& f : model.factors()) what += " " + std::to_string(f.U.size(0)) + "x" + std::to_string(f.V.size(0));
    what += ")";
    bench_population(what.c_str(), model, m, shot_prompts, shot_answers, [&](int64_t p) {
      std::vector<torch::Tensor> Wp;
      for (size_t i = 0; i < l.names.size(); ++i)
        Wp.push_back(svf_compose(model.factors()[i], m[p].narrow(0, l.offset(i), l.sizes[i]), torch::kFloat32));
      model.adapt_dense(Wp);
      return model.completion_log_softmax(shot_prompts, shot_answers);
    });
  }

  // 1b, 2b. The same on the runtime's transformer: TransformerPolicy over a random Llama-shaped
  //    checkpoint decomposed by decompose_model (MLP matrices adapted).
  if (transformer) {
    const int64_t vocab = quick ? 512 : 2048, hidden = quick ? 128 : 512, layers = 2, heads = quick ? 4 : 8,
                  inter = quick ? 344 : 1376;
    std::string dir = (std::filesystem::temp_directory_path() / ("t2-bench-experts-" + std::to_string(getpid())))
                          .string();
    bench::write_random_llama(dir, {vocab, hidden, layers, heads, heads / 2, inter});
    DecomposeOptions dopt;
    double t_svd = best_of(1, [&] { decompose_model(dir, dopt); });
    auto model = Model::load(dir, load);
    {
      TransformerPolicy pol(*model, dir + "/t2-svd");
      char what[160];
      std::snprintf(what, sizeof what, "TransformerPolicy (Llama-shaped, hidden %lld, %lld layers, MLP %lld, vocab "
                    "%lld; decompose %.2f s)", static_cast<long long>(hidden), static_cast<long long>(layers),
                    static_cast<long long>(inter), static_cast<long long>(vocab), t_svd);
      pol.set_use_config_eos(false);
      if (!population_only) {
        ReinforceConfig c = step_config();
        reinforce_step_split(what, pol, c, 16);
      } else {
        std::printf("%s\n", what);
      }

      torch::NoGradGuard no_grad;
      auto l = pol.layout();
      const int64_t P = 32, shots = 10;
      auto m = population(l, P);
      auto shot_prompts = prompts(shots, 6, vocab, 7);
      auto shot_answers = prompts(shots, 8, vocab, 8);
      std::vector<torch::Tensor> originals;
      for (auto& n : l.names) originals.push_back(model->weight(n).clone());
      std::vector<std::vector<int32_t>> sp, sa;
      for (auto& v : shot_prompts) sp.emplace_back(v.begin(), v.end());
      for (auto& v : shot_answers) sa.emplace_back(v.begin(), v.end());
      bench_population("TransformerPolicy (every token of the shots through the model)", pol, m, shot_prompts,
                       shot_answers, [&](int64_t p) {
                         for (size_t i = 0; i < l.names.size(); ++i)
                           model->set_weight(l.names[i], svf_compose(pol.shard().factors[i],
                                                                     m[p].narrow(0, l.offset(i), l.sizes[i])
                                                                         .to(model->device()),
                                                                     torch::kFloat32));
                         return model->completion_log_softmax(sp, sa);
                       });
      for (size_t i = 0; i < l.names.size(); ++i) model->set_weight(l.names[i], originals[i]);
      print_population_cost(*model, pol, shots, 6, 8);
      bench_population_generate(*model, pol, m, sp, 16);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // 3. Decomposition time per matrix shape.
  if (!population_only) {
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

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const NotAvailable& e) {
    std::fprintf(stderr, "t2_bench_experts: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "t2_bench_experts: %s\n", e.what());
    return 1;
  }
}
