// t2 plan: per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit.
//   t2 plan --model-config MODEL_DIR/config.json --tp 8 --gpu-memory-gb 80 [--batch 32 ...] [--json]
//   t2 plan --shape llama3-70b --tp 8
//   t2 plan CAMPAIGN.yaml [--json]            (once the campaign loader is in jobs/)
// Exit code 0 when every plan fits, 1 when one does not, 2 for bad input.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "coordinator/cli.h"
#include "coordinator/memory-plan.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "core/names.h"

namespace t2::cli {

namespace {

struct PlanArgs {
  std::string campaign;
  std::string model_config;
  std::string shape;
  PlanSettings settings;
  std::string modules = "mlp";
  std::string factors = "bf16";
  std::string weights = "bf16";
  std::string recompute = "layer";
  bool adam_on_workers = false;
  bool json = false;
};

int bytes_of(const std::string& dtype, const char* flag) {
  if (dtype == "bf16" || dtype == "fp16") return 2;
  if (dtype == "fp32") return 4;
  throw UsageError(std::string(flag) + " '" + dtype + "': " + suggest(dtype, {"bf16", "fp16", "fp32"}));
}

int run_plan(const PlanArgs& a) {
  if (!a.campaign.empty())
    not_available("plan CAMPAIGN.yaml",
                  "the campaign loader (jobs/campaign.h) is not in this build yet; use --model-config PATH "
                  "--tp N --gpu-memory-gb G instead");
  ModelShape shape;
  if (!a.model_config.empty()) {
    std::string path = a.model_config;
    if (path_exists(path + "/config.json")) path += "/config.json";
    T2_CHECK_AS(UsageError, path_exists(path), "--model-config {}: no such file", a.model_config);
    shape = model_shape_from_config_file(path);
  } else if (a.shape == "llama3-8b") {
    shape = llama3_8b_shape();
  } else if (a.shape == "llama3-70b") {
    shape = llama3_70b_shape();
  } else if (!a.shape.empty()) {
    throw UsageError("--shape '" + a.shape + "': " + suggest(a.shape, {"llama3-8b", "llama3-70b"}));
  } else {
    throw UsageError("t2 plan needs a campaign file, --model-config PATH or --shape NAME");
  }
  PlanSettings st = a.settings;
  st.modules = parse_svf_modules(a.modules);
  st.recompute = parse_recompute(a.recompute);
  st.factor_bytes = bytes_of(a.factors, "--factors");
  st.weight_bytes = bytes_of(a.weights, "--weights");
  st.adam_on_coordinator = !a.adam_on_workers;
  T2_CHECK_AS(UsageError, st.headroom_fraction >= 0 && st.headroom_fraction < 1,
              "--headroom must be in [0, 1), got {}", st.headroom_fraction);
  MemoryPlan plan = plan_memory_with_alternatives(shape, st);
  if (a.json)
    std::cout << memory_plan_json(plan).dump(2) << "\n";
  else
    std::cout << memory_plan_text(plan);
  return plan.valid && plan.evaluate.fits && plan.train.fits ? 0 : static_cast<int>(ExitCode::runtime_failure);
}

}  // namespace

Command add_plan_command(CLI::App& t2) {
  auto* app = t2.add_subcommand(
      "plan", "Print per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit");
  auto a = std::make_shared<PlanArgs>();
  PlanSettings& s = a->settings;
  app->add_option("campaign", a->campaign, "campaign YAML (needs the campaign loader)");
  app->add_option("--model-config", a->model_config, "a Hugging Face config.json or the folder holding it");
  app->add_option("--shape", a->shape, "a built-in shape instead: llama3-8b, llama3-70b");
  app->add_option("--tp", s.tp, "tensor-parallel degree of one worker group")->capture_default_str();
  app->add_option("--gpu-memory-gb", s.gpu_memory_gb, "memory of one GPU in GB (1e9 bytes)")->capture_default_str();
  app->add_option("--headroom", s.headroom_fraction, "fraction kept free for fragmentation")->capture_default_str();
  app->add_option("--runtime-overhead-gb", s.runtime_overhead_gb, "CUDA context and NCCL workspaces")
      ->capture_default_str();
  app->add_option("--batch", s.eval_batch, "sequences generated together")->capture_default_str();
  app->add_option("--prompt-tokens", s.max_prompt_tokens, "longest prompt")->capture_default_str();
  app->add_option("--new-tokens", s.max_new_tokens, "most generated tokens")->capture_default_str();
  app->add_option("--micro-batch", s.train_micro_batch, "sequences per scoring forward/backward")
      ->capture_default_str();
  app->add_option("--modules", a->modules, "adapted matrices: mlp, attn, all")->capture_default_str();
  app->add_option("--factors", a->factors, "dtype of U, sigma, V: bf16, fp32")->capture_default_str();
  app->add_option("--weights", a->weights, "dtype of the served weights: bf16, fp32")->capture_default_str();
  app->add_option("--recompute", a->recompute, "training activations: layer (checkpoint each layer), none")
      ->capture_default_str();
  app->add_flag("--adam-on-workers", a->adam_on_workers, "keep Adam moments on the workers (default: coordinator)");
  app->add_flag("--json", a->json, "print the plan as JSON");
  return {app, [a]() -> int { return run_plan(*a); }};
}

}  // namespace t2::cli
