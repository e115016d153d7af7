// One training step of each method on the same model and the same batch (paper Table 4's comparison
// of cost): SVF REINFORCE (policy gradient on z, MLP matrices), SVF next-token, LoRA next-token,
// LoRA policy gradient, DoRA and IA3 next-token. The step is scoring forward + backward + optimizer
// update on fixed completions (rollout generation is the same for every policy-gradient method and is
// timed by t2_bench_experts). Prints trainable parameters, best-of-3 step time and the peak resident
// memory of the step (VmHWM after resetting it through /proc/self/clear_refs).
//
//   t2_bench_peft [--quick]
#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "experts/decompose.h"
#include "experts/optimizer.h"
#include "experts/peft-train.h"
#include "experts/reinforce-step.h"
#include "experts/svf-next-token.h"
#include "experts/transformer-policy.h"
#include "bench/support/random-llama.h"
#include "workers/model.h"
#include "workers/safetensors-writer.h"

using namespace t2;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }
double peak_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return NAN;
}


void report(const char* what, int64_t params, const std::function<void()>& step) {
  step();  // warm-up
  double best = 1e30;
  reset_peak();
  for (int r = 0; r < 3; ++r) {
    double t0 = now();
    step();
    best = std::min(best, now() - t0);
  }
  std::printf("  %-34s %12lld %10.4f s %10.1f MiB\n", what, static_cast<long long>(params), best, peak_mib());
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  torch::set_num_threads(quick ? 1 : 2);
  const int64_t vocab = quick ? 512 : 2048, hidden = quick ? 128 : 512, layers = 2, heads = quick ? 4 : 8,
                inter = quick ? 344 : 1376, B = 16, P = 16, T = 32;
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("t2-bench-peft-" + std::to_string(getpid()))).string();
  bench::write_random_llama(dir, {vocab, hidden, layers, heads, heads / 2, inter});
  decompose_model(dir, DecomposeOptions{});
  auto model = Model::load(dir, {});
  std::vector<TokenSeq> prompts(B), completions(B);
  std::vector<PeftExample> batch(B);
  std::vector<double> adv(B);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < P; ++t) prompts[b].push_back((b * 17 + t * 7 + 3) % vocab);
    for (int64_t t = 0; t < T; ++t) completions[b].push_back((b * 13 + t * 11 + 5) % vocab);
    batch[b].prompt.assign(prompts[b].begin(), prompts[b].end());
    batch[b].target.assign(completions[b].begin(), completions[b].end());
    adv[b] = b % 2 ? 1.0 : -1.0;
    batch[b].advantage = adv[b];
  }
  std::printf("one training step, Llama-shaped hidden %lld, %lld layers, MLP %lld, vocab %lld; batch %lld x (%lld prompt "
              "+ %lld target tokens), fp32 CPU, %d threads\n",
              static_cast<long long>(hidden), static_cast<long long>(layers), static_cast<long long>(inter),
              static_cast<long long>(vocab), static_cast<long long>(B), static_cast<long long>(P),
              static_cast<long long>(T), torch::get_num_threads());
  std::printf("  %-34s %12s %12s %14s\n", "method", "trainable", "step", "peak RSS");
  OptimizerConfig opt;
  opt.lr = 2e-3;
  opt.clip_norm = 1e-3;
  {
    TransformerPolicy pol(*model, dir + "/t2-svd");
    auto z = z_init(pol.layout(), 1);
    OptimizerState st;
    st.m.assign(z.size(), 0.f);
    st.v.assign(z.size(), 0.f);
    ReinforceConfig c;
    c.batch_size = B;
    report("SVF REINFORCE (MLP)", pol.layout().total(), [&] {
      auto g = reinforce_shard_gradient(pol, z, prompts, completions, adv, B, c);
      optimizer_step(opt, st, z, g.grad);
    });
    int64_t tokens = B * T;
    report("SVF next-token (MLP)", pol.layout().total(), [&] {
      auto g = svf_next_token_gradient(pol, z, prompts, completions, tokens);
      optimizer_step(opt, st, z, g.grad);
    });
  }
  auto peft = [&](const char* what, PeftMethod m, PeftObjective obj, std::vector<std::string> targets = {}) {
    PeftConfig pc;
    pc.method = m;
    pc.target_modules = std::move(targets);
    OptimizerConfig o = opt;
    o.lr = 2e-4;
    o.clip_norm = 1.0;
    PeftTrainer t(*model, peft_init(*model, pc, 1), obj, o, 1);
    report(what, t.num_parameters(), [&] { t.train_step(batch); });
  };
  peft("LoRA next-token (q, v; r 16)", PeftMethod::lora, PeftObjective::next_token);
  peft("LoRA policy gradient (q, v; r 16)", PeftMethod::lora, PeftObjective::policy_gradient);
  peft("LoRA next-token (q,v,gate,up,down)", PeftMethod::lora, PeftObjective::next_token,
       {"q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"});
  peft("DoRA next-token (q, v; r 16)", PeftMethod::dora, PeftObjective::next_token);
  peft("IA3 next-token (k, v, down)", PeftMethod::ia3, PeftObjective::next_token);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
