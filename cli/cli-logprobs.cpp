// t2 logprobs: per-token log-probabilities of continuation ids after prompt ids (no tokenizer needed).
// Repeat --prompt-ids/--continuation-ids in pairs for a batch. `--tp N` under `mpirun -np N`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "core/check.h"
#include "core/hf-cache.h"
#include "workers/runtime-group.h"

namespace t2::cli {

namespace {

struct LogprobsArgs {
  std::string model_dir;
  std::string revision;  // of a Hub id in the local cache
  std::string snapshot;  // the commit the id resolved to (set by run_logprobs)
  std::vector<std::string> prompt_ids, continuation_ids;
  bool json = false;
  std::string dtype = "auto", device = "auto";
  int tp = 1;
};

int run_logprobs(LogprobsArgs a) {
  // A folder, or a Hub id found in the local Hugging Face cache (core/hf-cache.h); nothing is downloaded.
  const ModelLocation loc = resolve_model(a.model_dir, a.revision, "t2 logprobs: model");
  a.model_dir = loc.dir;
  a.snapshot = loc.commit;
  T2_CHECK_AS(UsageError, !a.prompt_ids.empty() && a.prompt_ids.size() == a.continuation_ids.size(),
              "give --prompt-ids and --continuation-ids in pairs ({} and {} given)", a.prompt_ids.size(),
              a.continuation_ids.size());
  std::vector<std::vector<int32_t>> prompts, conts;
  for (const auto& s : a.prompt_ids) prompts.push_back(parse_id_list(s, "--prompt-ids"));
  for (const auto& s : a.continuation_ids) conts.push_back(parse_id_list(s, "--continuation-ids"));
  RuntimeGroup g = load_runtime_group(a.model_dir, a.dtype, a.device, a.tp);
  auto lps = g.runtime->logprobs(prompts, conts);
  if (!g.prints) return 0;
  if (a.json) {
    nlohmann::json out = {{"model", a.model_dir}, {"snapshot", a.snapshot}, {"results", nlohmann::json::array()}};
    for (size_t i = 0; i < lps.size(); ++i) {
      double sum = 0;
      for (float v : lps[i]) sum += v;
      out["results"].push_back({{"prompt_ids", prompts[i]}, {"continuation_ids", conts[i]}, {"logprobs", lps[i]},
                                {"sum", sum}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (size_t i = 0; i < lps.size(); ++i) {
      double sum = 0;
      for (size_t j = 0; j < lps[i].size(); ++j) {
        std::printf("%d\t%.6f\n", conts[i][j], lps[i][j]);
        sum += lps[i][j];
      }
      std::printf("sum\t%.6f\n", sum);
    }
  }
  return 0;
}

}  // namespace

Command add_logprobs_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("logprobs", "Per-token log-probabilities of continuation ids after prompt ids");
  auto a = std::make_shared<LogprobsArgs>();
  app->add_option("model_dir", a->model_dir, "HF model folder or Hub id in the local cache (config.json + safetensors)")->required();
  app->add_option("--revision", a->revision, "branch, tag or commit of a Hub id (default main)");
  app->add_option("--prompt-ids", a->prompt_ids, "prompt token ids, comma separated (repeat for a batch)")->required();
  app->add_option("--continuation-ids", a->continuation_ids, "continuation token ids, comma separated")->required();
  app->add_flag("--json", a->json, "print JSON: per-token log-probs and their sum");
  app->add_option("--dtype", a->dtype, "auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16");
  app->add_option("--device", a->device, "auto (a GPU when t2 has CUDA and one is visible), cpu, cuda, cuda:N");
  app->add_option("--tp", a->tp, "tensor-parallel ranks (run under mpirun -np N)")->check(CLI::PositiveNumber);
  return {app, [a]() -> int { return run_logprobs(*a); }};
}

}  // namespace t2::cli
