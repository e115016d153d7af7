// t2 plan: per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit.
//   t2 plan CAMPAIGN.yaml [key.path=value ...] [--json]   every model of the campaign, its tp and GPU
//                                                          memory, the largest eval batch_size, the
//                                                          longest max_new_tokens, the adapted modules
//   t2 plan --model-config MODEL_DIR[/config.json] --tp 8 --gpu-memory-gb 80 [--batch 32 ...] [--json]
//   t2 plan --shape llama3-70b --tp 8
// Flags given explicitly override what the campaign says. Exit code 0 when every plan fits, 1 when
// one does not, 2 for bad input (a model folder without config.json included).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <set>
#include <tuple>
#include <iostream>
#include <memory>

#include "cli/campaign-memory-plan.h"
#include "cli/cli.h"
#include "coordinator/memory-plan-model.h"
#include "coordinator/memory-plan-peft.h"
#include "coordinator/memory-plan.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hf-cache.h"
#include "core/names.h"
#include "jobs/campaign.h"
#include "jobs/layer-list.h"
#include "workers/memory-sizing.h"

namespace t2::cli {

namespace {

struct PlanArgs {
  std::string campaign;
  std::vector<std::string> overrides;
  std::string model_config;
  std::string shape;
  PlanSettings settings;
  std::string modules = "mlp";
  std::string factors = "auto";
  std::string weights = "bf16";
  std::string recompute = "layer";
  bool adam_on_workers = false;
  std::string device = "gpu";
  std::string attention = "auto";
  bool json = false;
  CLI::App* app = nullptr;
  bool given(const char* flag) const { return app->count(flag) > 0; }
};

int bytes_of(const std::string& dtype, const char* flag) {
  if (dtype == "bf16" || dtype == "fp16") return 2;
  if (dtype == "fp32") return 4;
  throw UsageError(std::string(flag) + " '" + dtype + "': " + suggest(dtype, {"bf16", "fp16", "fp32"}));
}

PlanSettings settings_from_flags(const PlanArgs& a) {
  PlanSettings st = a.settings;
  st.modules = parse_svf_modules(a.modules);
  st.recompute = parse_recompute(a.recompute);
  st.weight_bytes = bytes_of(a.weights, "--weights");
  // auto: as the runtime holds them, U and V in the serving dtype (fp32 decompositions stay fp32).
  st.factor_bytes = a.factors == "auto" ? st.weight_bytes : bytes_of(a.factors, "--factors");
  st.adam_on_coordinator = !a.adam_on_workers;
  st.device = parse_plan_device(a.device);
  // The CPU counterpart of the CUDA context: the worker process's libraries.
  if (st.device == PlanDevice::cpu && !a.given("--runtime-overhead-gb")) st.runtime_overhead_gb = kCpuProcessBaselineGb;
  // auto: on a GPU the fused kernels of the LibTorch 2 that GPU builds use (scripts/gpu-build); on the
  // CPU whatever this build has.
  if (a.attention == "auto")
    st.fused_attention = st.device == PlanDevice::gpu || fused_attention_built();
  else if (a.attention == "fused" || a.attention == "materialised")
    st.fused_attention = a.attention == "fused";
  else
    throw UsageError("--attention '" + a.attention + "': " + suggest(a.attention, {"auto", "fused", "materialised"}));
  T2_CHECK_AS(UsageError, st.headroom_fraction >= 0 && st.headroom_fraction < 1,
              "--headroom must be in [0, 1), got {}", st.headroom_fraction);
  return st;
}

ModelShape shape_from_flags(const PlanArgs& a) {
  if (!a.model_config.empty()) {
    // A config.json, a model folder, or a Hub id in the local Hugging Face cache.
    if (path_exists(a.model_config)) return model_shape_from_path(a.model_config);
    return model_shape_from_path(resolve_model(a.model_config, "", "--model-config").dir);
  }
  if (a.shape == "llama3-8b") return llama3_8b_shape();
  if (a.shape == "llama3-70b") return llama3_70b_shape();
  if (!a.shape.empty()) throw UsageError("--shape '" + a.shape + "': " + suggest(a.shape, {"llama3-8b", "llama3-70b"}));
  throw UsageError("t2 plan needs a campaign file, --model-config PATH or --shape NAME");
}

int run_campaign_plan(const PlanArgs& a) {
  CampaignLoadOptions lo;
  lo.check_data_files = false;  // planning needs shapes and settings only
  const Campaign c = load_campaign(a.campaign, a.overrides, lo);
  T2_CHECK_AS(UsageError, !c.models.empty(), "{}: the campaign names no models", a.campaign);
  const PlanSettings base = settings_from_flags(a);
  std::vector<std::string> problems;
  std::vector<MemoryPlan> plans;
  for (const ModelSpec& m : c.models) {
    ModelShape shape;
    try {
      if (!a.model_config.empty() || !a.shape.empty()) {
        shape = shape_from_flags(a);
      } else {
        // The loader resolved a cached Hub id to its snapshot; a miss says where it looked.
        if (m.hf_id.empty() && !path_exists(m.path)) throw UsageError(find_model(m.path, m.revision).problem);
        shape = model_shape_from_path(m.path);
      }
    } catch (const Error& e) {
      problems.push_back(fmt::format("{}: models.{}.path: {}", a.campaign, m.name, e.what()));
      continue;
    }
    shape.name = m.name;
    // --factors auto (its default) leaves the factors' dtype to the campaign's serving dtype
    const PlanSettings st = campaign_plan_settings(c, m, shape, base, [&](const char* flag) {
      return std::string(flag) == "--factors" ? a.factors != "auto" : a.given(flag);
    }, fused_attention_built());
    plans.push_back(plan_memory_with_alternatives(shape, st));
  }
  if (!problems.empty()) throw UsageError(join(problems, "\n"));
  bool all_fit = true;
  nlohmann::json out = {{"campaign", c.name}, {"models", nlohmann::json::object()}};
  for (const auto& p : plans) {
    all_fit &= plan_fits(p);
    nlohmann::json j = memory_plan_json(p);
    std::string text = memory_plan_text(p);
    // the baselines' training (train_peft) of this model: one phase per method and modules
    std::set<std::tuple<std::string, std::string, int64_t>> peft;
    for (const auto& e : c.experiments)
      if (e.kind == "train_peft" && uses_model(e, p.shape.name) && p.valid)
        peft.insert({e.params.value("method", std::string("lora")), e.params.value("modules", std::string("attn")),
                     std::max<int64_t>(1, max_param(e.params, "r"))});
    for (const auto& [method, modules, r] : peft) {
      PeftPlanSpec spec{method, modules, r};
      PhasePlan ph = plan_peft_training(p, spec);
      const int64_t n = peft_trainable_values(p.shape, spec);
      all_fit &= ph.fits;
      text += peft_plan_text(ph, spec, n);
      nlohmann::json items = nlohmann::json::array();
      for (const auto& i : ph.items) items.push_back({{"name", i.name}, {"bytes", i.bytes}, {"formula", i.formula}});
      j["peft"][ph.phase + "/" + modules + "/r" + std::to_string(r)] = {
          {"trainable", n}, {"items", items}, {"total_bytes", ph.total_bytes}, {"budget_bytes", ph.budget_bytes},
          {"fits", ph.fits}};
    }
    if (a.json)
      out["models"][p.shape.name] = j;
    else
      std::cout << text << "\n";
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  return all_fit ? 0 : static_cast<int>(ExitCode::runtime_failure);
}

int run_plan(const PlanArgs& a) {
  if (!a.campaign.empty()) return run_campaign_plan(a);
  MemoryPlan plan = plan_memory_with_alternatives(shape_from_flags(a), settings_from_flags(a));
  if (a.json)
    std::cout << memory_plan_json(plan).dump(2) << "\n";
  else
    std::cout << memory_plan_text(plan);
  return plan_fits(plan) ? 0 : static_cast<int>(ExitCode::runtime_failure);
}

}  // namespace

Command add_plan_command(CLI::App& t2) {
  auto* app = t2.add_subcommand(
      "plan", "Print per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit");
  auto a = std::make_shared<PlanArgs>();
  PlanSettings& s = a->settings;
  a->app = app;
  app->add_option("campaign", a->campaign, "campaign YAML");
  app->add_option("overrides", a->overrides, "key.path=value overrides of the campaign");
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
  app->add_option("--modules", a->modules, "adapted matrices: mlp, attn (q, v), attn_qkvo, all (mlp + q, v), all_qkvo")->capture_default_str();
  app->add_option("--factors", a->factors, "dtype of U and V: auto (the serving dtype, as the runtime holds them), bf16, fp32")->capture_default_str();
  app->add_option("--weights", a->weights, "dtype of the served weights: bf16, fp32")->capture_default_str();
  app->add_option("--recompute", a->recompute, "gradient items: layer (rerun each layer in backward, the campaign default), none (keep all)")
      ->capture_default_str();
  app->add_option("--device", a->device, "where the model lives: gpu, cpu (the plan is then the host process's memory)")
      ->capture_default_str();
  app->add_option("--attention", a->attention,
                  "attention kernels: auto (fused on gpu; on cpu what this build has), fused, materialised")
      ->capture_default_str();
  app->add_option("--cem-rows", s.cem_rows, "sequences of one CEM work item (candidates x shots; 0: --batch)")
      ->capture_default_str();
  app->add_flag("--kl-reference", s.kl_reference, "gradient items also score the reference (KL coefficient > 0)");
  app->add_flag("--adam-on-workers", a->adam_on_workers, "keep Adam moments on the workers (default: coordinator)");
  app->add_flag("--json", a->json, "print the plan as JSON");
  return {app, [a]() -> int { return run_plan(*a); }};
}

}  // namespace t2::cli
