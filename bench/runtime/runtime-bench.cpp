// Runtime benchmark: prefill and decode tokens/s of greedy batched generation at batch 1, 8, 64 for a
// ~110M-parameter Llama-shaped random model on CPU (fp32, one thread), t2 side by side with the
// Python reference (bench/runtime/reference_generate.py) measured in the same run on the same
// prompts; prints the ratios and whether the generated ids agree.
//
//   t2_runtime_bench [--model DIR] [--batches 1,8,64] [--prompt-len 32] [--new-tokens 16]
// Without --model a random checkpoint is written to a temporary folder by make_fixture.py.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "core/subprocess.h"
#include "workers/model.h"

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return dflt;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    torch::set_num_threads(1);
    const std::string src = T2_SOURCE_DIR;
    const std::string py = "/usr/bin/python3";
    std::string model = arg(argc, argv, "--model", "");
    const std::string batches = arg(argc, argv, "--batches", "1,8,64");
    const int plen = std::stoi(arg(argc, argv, "--prompt-len", "32"));
    const int ntok = std::stoi(arg(argc, argv, "--new-tokens", "16"));
    std::string tmp;
    if (model.empty()) {
      tmp = "/tmp/t2-runtime-bench-" + std::to_string(::getpid());
      model = tmp + "/model";
      // 10 layers, d 768, 12 heads / 4 KV heads, ffn 2048, vocab 32000, untied: 112M parameters
      auto r = t2::run_subprocess({py, src + "/tests/workers/fixtures/make_fixture.py", model, "--family", "llama",
                                   "--hidden", "768", "--layers", "10", "--heads", "12", "--kv-heads", "4",
                                   "--intermediate", "2048", "--vocab", "32000", "--max-pos", "4096", "--seed", "7"},
                                  t2::SubprocessOptions{t2::Seconds(300)});
      if (!r.ok()) throw t2::Error("make_fixture.py: " + r.describe() + "\n" + r.err);
    }
    auto m = t2::Model::load(model, {});
    std::printf("model %s: %.1fM parameters, fp32, CPU, 1 thread, prompt %d tokens, %d new tokens\n", model.c_str(),
                m->config().parameter_count() / 1e6, plen, ntok);

    t2::SubprocessOptions po;
    po.timeout = t2::Seconds(1800);
    po.env_set = {{"OMP_NUM_THREADS", "1"}, {"OPENBLAS_NUM_THREADS", "1"}, {"MKL_NUM_THREADS", "1"}};
    auto r = t2::run_subprocess({py, src + "/bench/runtime/reference_generate.py", model, "--batches", batches,
                                 "--prompt-len", std::to_string(plen), "--new-tokens", std::to_string(ntok)},
                                po);
    if (!r.ok()) throw t2::Error("reference_generate.py: " + r.describe() + "\n" + r.err);
    auto ref = nlohmann::json::parse(r.out)["results"];

    std::printf("\n%6s | %14s %14s %7s | %14s %14s %7s | %s\n", "batch", "prefill t2", "prefill py", "ratio",
                "decode t2", "decode py", "ratio", "ids equal");
    for (const auto& row : ref) {
      const int B = row["batch"].get<int>();
      auto prompts = row["prompts"].get<std::vector<std::vector<int32_t>>>();
      t2::GenerateOptions one;
      one.max_new_tokens = 1;
      one.use_config_eos = false;
      m->generate(prompts, one);  // warm-up (allocator, first-touch)
      auto t0 = std::chrono::steady_clock::now();
      m->generate(prompts, one);
      const double prefill_s = seconds_since(t0);
      t2::GenerateOptions go = one;
      go.max_new_tokens = ntok;
      t0 = std::chrono::steady_clock::now();
      auto gens = m->generate(prompts, go);
      const double decode_s = std::max(1e-9, seconds_since(t0) - prefill_s);
      const double pf = B * plen / prefill_s, dc = B * (ntok - 1) / decode_s;
      const double pf_ref = row["prefill_tok_s"].get<double>(), dc_ref = row["decode_tok_s"].get<double>();
      auto ref_ids = row["ids"].get<std::vector<std::vector<int32_t>>>();
      int equal = 0;
      for (int b = 0; b < B; ++b) equal += gens[static_cast<size_t>(b)].ids == ref_ids[static_cast<size_t>(b)];
      std::printf("%6d | %10.1f t/s %10.1f t/s %6.2fx | %10.1f t/s %10.1f t/s %6.2fx | %d/%d\n", B, pf, pf_ref,
                  pf / pf_ref, dc, dc_ref, dc / dc_ref, equal, B);
      std::fflush(stdout);
    }
    if (!tmp.empty()) t2::run_subprocess({"rm", "-rf", tmp});
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "t2_runtime_bench: %s\n", e.what());
    return 1;
  }
}
