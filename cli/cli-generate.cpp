// t2 generate: generate from a model folder. Prompts are text (needs the folder's tokenizer; --chat
// wraps it in the chat template) or token ids (works on a folder with only config.json + safetensors).
// Under `mpirun -np N ... --tp N` the ranks form one tensor-parallel group and rank 0 prints.
//
// Transformer² (--experts E1.h5,E2.h5 --adapt prompt|cls|fewshot): a first pass classifies each
// question with the exact classification prompt (experts/dispatch.h) under the base weights (prompt)
// or the classifier expert (cls, --classifier), the label picks an expert by the experts' task family
// (or --route label=FILE), and the second pass answers with that expert's SVF adaptation on the
// factors of `t2 decompose` (--svd, default MODEL_DIR/t2-svd). fewshot answers with a mixture of the
// experts (--alpha, multiplier mixing of experts/mixture.h). The route taken goes to stderr.
// This file compiles with the torch PCH (coordinator/CMakeLists.txt): it drives TransformerPolicy.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "cli/cli.h"
#include "core/check.h"
#include "core/hf-cache.h"
#include "core/files.h"
#include "experts/dispatch.h"
#include "experts/expert-file.h"
#include "experts/expert-safetensors.h"
#include "experts/mixture.h"
#include "experts/peft-file.h"
#include "experts/transformer-policy.h"
#include "jobs/registry-builtin.h"
#include "workers/chat-template.h"
#include "workers/model.h"
#include "workers/runtime-group.h"
#include "workers/tokenizer.h"

namespace t2::cli {

namespace {

struct GenerateArgs {
  std::string model_dir;
  std::string revision;  // of a Hub id in the local cache
  std::string snapshot;  // the commit the id resolved to (set by run_generate)
  std::vector<std::string> prompts;
  std::vector<std::string> prompt_ids;
  bool chat = false;
  std::string chat_template;
  int max_new_tokens = 64;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::vector<int32_t> eos;
  bool json = false;
  std::string dtype = "auto", device = "auto";
  int tp = 1;
  // Transformer² two-pass generation
  std::vector<std::string> experts;
  std::string adapt;                   // "" (plain) | prompt | cls | fewshot
  std::string classifier;
  std::vector<std::string> route;      // label=FILE
  std::vector<double> alpha;
  std::string mixing = "multiplier";
  std::string svd_dir;
  std::string label;                   // skip the classification pass
  std::string dispatch_compat = "fixed";
  int classify_max_new_tokens = 64;
  std::string peft;                    // a PEFT adapter folder (LoRA, DoRA, IA3) applied to the model
};

const std::vector<std::string> kLabels = {"code", "math", "reasoning", "other"};

// Where each prompt of the batch goes and how it was decided.
struct Route {
  std::string label;          // code | math | reasoning | other | fewshot
  std::string classification; // the first pass's answer (empty when skipped)
  int expert = -1;            // index into the loaded experts; -1 base weights, -2 the fewshot mixture
  std::string target;         // what the route line prints after "->"
};

std::string fmt_alpha(const std::vector<double>& alpha, const std::vector<std::string>& files) {
  std::ostringstream o;
  if (alpha.size() == files.size()) {
    for (size_t k = 0; k < files.size(); ++k) o << (k ? " + " : "") << alpha[k] << "*" << files[k];
  } else {
    o << "per-matrix mixture of ";
    for (size_t k = 0; k < files.size(); ++k) o << (k ? ", " : "") << files[k];
  }
  return o.str();
}

struct Adapted {
  std::vector<Route> routes;
  std::vector<Generation> gens;
};

Adapted run_adapted(const GenerateArgs& a, RuntimeGroup& g, const Tokenizer* tok,
                    const std::vector<std::vector<int32_t>>& batch, const GenerateOptions& opt,
                    const Detokenizer& detok) {
  const std::string& mode = a.adapt;
  T2_CHECK_AS(UsageError, mode == "prompt" || mode == "cls" || mode == "fewshot",
              "--adapt must be prompt, cls or fewshot, got '{}'", mode);
  T2_CHECK_AS(UsageError, !a.experts.empty() || (!a.route.empty() && mode != "fewshot"),
              "--adapt {} needs --experts E1.h5,E2.h5,...", mode);
  T2_CHECK_AS(UsageError, mode == "cls" || a.classifier.empty(), "--classifier applies to --adapt cls");
  T2_CHECK_AS(UsageError, mode != "cls" || !a.classifier.empty() || !a.label.empty(),
              "--adapt cls needs the classifier expert: --classifier CLS.h5");
  T2_CHECK_AS(UsageError, mode == "fewshot" || a.alpha.empty(), "--alpha applies to --adapt fewshot");
  T2_CHECK_AS(UsageError, mode != "fewshot" || (a.route.empty() && a.label.empty()),
              "--route and --label apply to --adapt prompt|cls (fewshot mixes every expert)");
  T2_CHECK_AS(UsageError, a.label.empty() || std::find(kLabels.begin(), kLabels.end(), a.label) != kLabels.end(),
              "--label must be code, math, reasoning or other, got '{}'", a.label);
  const DispatchCompat compat = dispatch_compat_from_name(a.dispatch_compat);
  const MixingMode mixing = mixing_mode_from_name(a.mixing);

  TransformerPolicy pol(g.runtime->model(), a.svd_dir.empty() ? a.model_dir + "/t2-svd" : a.svd_dir);
  const ZLayout layout = pol.layout();
  auto load = [&](const std::string& path) {
    T2_CHECK_AS(UsageError, path_exists(path), "expert file {} does not exist", path);
    Expert e = expert_read_any(path);  // .h5 or .safetensors (t2 experts export)
    expert_check_compatible(e, path, layout, pol.source_hash());
    return e;
  };

  // The experts and the label -> expert map.
  std::vector<std::string> files = a.experts;
  std::map<std::string, int> by_label;
  for (const auto& r : a.route) {
    auto eq = r.find('=');
    T2_CHECK_AS(UsageError, eq != std::string::npos && eq > 0 && eq + 1 < r.size(),
                "--route takes LABEL=FILE (e.g. math=gsm8k.h5), got '{}'", r);
    std::string label = r.substr(0, eq), file = r.substr(eq + 1);
    T2_CHECK_AS(UsageError, std::find(kLabels.begin(), kLabels.end(), label) != kLabels.end(),
                "--route {}: the label must be code, math, reasoning or other", r);
    T2_CHECK_AS(UsageError, !by_label.count(label), "--route names label '{}' twice", label);
    auto it = std::find(files.begin(), files.end(), file);
    if (it == files.end()) {
      files.push_back(file);
      it = files.end() - 1;
    }
    by_label[label] = static_cast<int>(it - files.begin());
  }
  std::vector<Expert> experts;
  for (const auto& f : files) experts.push_back(load(f));
  if (a.route.empty() && mode != "fewshot") {
    for (size_t k = 0; k < experts.size(); ++k) {
      const TaskKind* kind = task_kinds().find(experts[k].task);
      const std::string family = kind ? kind->family : "";
      T2_CHECK_AS(UsageError, family == "code" || family == "math" || family == "reasoning",
                  "{}: task '{}' has no dispatch family (code, math or reasoning); route it explicitly with "
                  "--route LABEL={}",
                  files[k], experts[k].task, files[k]);
      auto [it, fresh] = by_label.emplace(family, static_cast<int>(k));
      T2_CHECK_AS(UsageError, fresh, "{} and {} both serve '{}' (tasks '{}' and '{}'): choose with --route {}=FILE",
                  files[static_cast<size_t>(it->second)], files[k], family, experts[static_cast<size_t>(it->second)].task,
                  experts[k].task, family);
    }
  }
  // compat original: "other" gets the expert the reference would still have loaded (its evaluation
  // order is code, math, reasoning).
  int last_loaded = -1;
  for (const char* l : {"code", "math", "reasoning"})
    if (by_label.count(l)) last_loaded = by_label[l];

  const size_t B = batch.size();
  Adapted out;
  out.routes.resize(B);
  if (mode == "fewshot") {
    const int64_t K = static_cast<int64_t>(experts.size()), P = static_cast<int64_t>(layout.names.size());
    T2_CHECK_AS(UsageError, !a.alpha.empty(),
                "--adapt fewshot needs the mixture coefficients --alpha a1,...,aK (one per expert, or one per expert "
                "per matrix: {} x {}), e.g. the best CEM solution of a fewshot run", K, P);
    const int64_t n = static_cast<int64_t>(a.alpha.size());
    T2_CHECK_AS(UsageError, n == K || n == K * P, "--alpha has {} values: give {} (one per expert) or {} ({} experts x {} "
                "matrices)", n, K, K * P, K, P);
    std::vector<std::vector<float>> zs;
    for (const auto& e : experts) zs.push_back(e.z);
    pol.adapt_multipliers(mixture_multipliers(zs, layout, a.alpha, n != K, mixing));
    for (auto& r : out.routes) r = {"fewshot", "", -2, fmt_alpha(a.alpha, files)};
    out.gens = pol.generate_full(batch, opt, detok);
    pol.adapt_base();
    return out;
  }

  // First pass: classify (or take --label).
  if (!a.label.empty()) {
    for (auto& r : out.routes) r.label = a.label;
  } else {
    T2_CHECK_AS(UsageError, tok && !a.prompts.empty(),
                "--adapt {} classifies the question text: give --prompt TEXT (and a model folder with a tokenizer), or "
                "skip the first pass with --label LABEL",
                mode);
    auto tmpl = a.chat_template.empty() ? ChatTemplate::for_tokenizer(*tok) : ChatTemplate::by_name(a.chat_template);
    std::vector<std::vector<int32_t>> cls_batch;
    for (const auto& q : a.prompts)
      cls_batch.push_back(encode_chat(*tok, *tmpl, {{"system", dispatch_classification_prompt()}, {"user", q}}));
    if (mode == "cls") {
      Expert c = load(a.classifier);
      pol.adapt_expert(c.z);
    } else {
      pol.adapt_base();
    }
    GenerateOptions co;
    co.max_new_tokens = a.classify_max_new_tokens;
    co.eos_ids = opt.eos_ids;
    auto cls = pol.generate_full(cls_batch, co, detok);
    pol.adapt_base();
    for (size_t i = 0; i < B; ++i) {
      out.routes[i].classification = cls[i].text;
      out.routes[i].label = dispatch_label(cls[i].text);
    }
  }
  for (auto& r : out.routes) {
    r.expert = dispatch_route(r.label, by_label, compat, last_loaded);
    r.target = r.expert < 0 ? std::string("base") : files[static_cast<size_t>(r.expert)];
  }

  // Second pass: one batch per route (base rows run the plain model, bit for bit).
  out.gens.resize(B);
  std::map<int, std::vector<size_t>> groups;
  for (size_t i = 0; i < B; ++i) groups[out.routes[i].expert].push_back(i);
  for (const auto& [expert, rows] : groups) {
    if (expert < 0)
      pol.adapt_base();
    else
      pol.adapt_expert(experts[static_cast<size_t>(expert)].z);
    std::vector<std::vector<int32_t>> sub;
    for (size_t i : rows) sub.push_back(batch[i]);
    auto gens = pol.generate_full(sub, opt, detok);
    for (size_t j = 0; j < rows.size(); ++j) out.gens[rows[j]] = std::move(gens[j]);
  }
  pol.adapt_base();
  return out;
}

int run_generate(GenerateArgs a) {
  // A folder, or a Hub id found in the local Hugging Face cache (core/hf-cache.h); nothing is downloaded.
  const ModelLocation loc = resolve_model(a.model_dir, a.revision, "t2 generate: model");
  a.model_dir = loc.dir;
  a.snapshot = loc.commit;
  T2_CHECK_AS(UsageError, a.prompts.empty() != a.prompt_ids.empty(),
              "give either --prompt TEXT or --prompt-ids 1,2,3 (each may repeat for a batch)");
  T2_CHECK_AS(UsageError, !a.chat || !a.prompts.empty(), "--chat applies to --prompt TEXT");
  std::unique_ptr<Tokenizer> tok;
  const bool have_tok = path_exists(a.model_dir + "/tokenizer.json") || path_exists(a.model_dir + "/tokenizer.model");
  if (!a.prompts.empty() || have_tok) {
    T2_CHECK_AS(UsageError, have_tok || a.prompts.empty(),
                "{}: --prompt TEXT needs tokenizer.json or tokenizer.model in the model folder; use --prompt-ids",
                a.model_dir);
    tok = Tokenizer::load(a.model_dir);
  }
  std::vector<std::vector<int32_t>> batch;
  for (const auto& s : a.prompt_ids) batch.push_back(parse_id_list(s, "--prompt-ids"));
  for (const auto& text : a.prompts) {
    if (a.chat) {
      auto tmpl = a.chat_template.empty() ? ChatTemplate::for_tokenizer(*tok) : ChatTemplate::by_name(a.chat_template);
      batch.push_back(encode_chat(*tok, *tmpl, {{"user", text}}));
    } else {
      std::vector<int32_t> ids;
      if (tok->add_bos()) ids.push_back(*tok->bos_id());
      auto body = tok->encode(text);
      ids.insert(ids.end(), body.begin(), body.end());
      batch.push_back(ids);
    }
  }
  RuntimeGroup g = load_runtime_group(a.model_dir, a.dtype, a.device, a.tp);
  GenerateOptions opt;
  opt.max_new_tokens = a.max_new_tokens;
  opt.temperature = a.temperature;
  opt.top_p = a.top_p;
  opt.seed = a.seed;
  opt.stop_strings = a.stop;
  opt.eos_ids = a.eos;
  if (tok)
    for (int32_t e : tok->eos_ids()) opt.eos_ids.push_back(e);
  Detokenizer detok;
  if (tok) detok = [&](const std::vector<int32_t>& ids) { return tok->decode(ids, /*skip_special=*/true); };
  std::vector<Generation> gens;
  std::vector<Route> routes;
  if (!a.peft.empty()) {  // PEFT's layout (experts/peft-file.h), this rank's TP shards
    T2_CHECK_AS(UsageError, a.adapt.empty(), "--peft and --adapt are exclusive (a PEFT adapter is not an SVF expert)");
    peft_attach(g.runtime->model(), read_peft(a.peft), /*trainable=*/false);
  }
  if (a.adapt.empty()) {
    T2_CHECK_AS(UsageError,
                a.experts.empty() && a.classifier.empty() && a.route.empty() && a.alpha.empty() && a.label.empty(),
                "--experts, --classifier, --route, --alpha and --label need --adapt prompt|cls|fewshot");
    gens = g.runtime->generate(batch, opt, detok);
  } else {
    auto ad = run_adapted(a, g, tok.get(), batch, opt, detok);
    gens = std::move(ad.gens);
    routes = std::move(ad.routes);
  }
  if (!g.prints) return 0;
  for (const auto& r : routes) std::cerr << "route: " << r.label << " -> " << r.target << "\n";
  if (a.json) {
    nlohmann::json out = {{"model", a.model_dir}, {"snapshot", a.snapshot}, {"generations", nlohmann::json::array()}};
    if (!a.adapt.empty()) out["adapt"] = a.adapt;
    for (size_t i = 0; i < gens.size(); ++i) {
      nlohmann::json o = {{"prompt_ids", batch[i]}, {"ids", gens[i].ids}, {"logprobs", gens[i].logprobs},
                          {"stop_reason", gens[i].stop_reason}};
      if (tok) o["text"] = gens[i].text;
      if (!routes.empty()) {
        o["route"] = {{"label", routes[i].label}, {"to", routes[i].target}};
        if (!a.label.empty() || a.adapt == "fewshot") o["route"]["classification"] = nullptr;
        else o["route"]["classification"] = routes[i].classification;
      }
      out["generations"].push_back(o);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& gen : gens) {
      if (tok) {
        std::cout << gen.text << "\n";
      } else {
        for (size_t i = 0; i < gen.ids.size(); ++i) std::cout << (i ? "," : "") << gen.ids[i];
        std::cout << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("generate", "Generate text or token ids with a model folder");
  auto a = std::make_shared<GenerateArgs>();
  app->add_option("model_dir", a->model_dir, "HF model folder or Hub id in the local cache (config.json + safetensors [+ tokenizer])")->required();
  app->add_option("--revision", a->revision, "branch, tag or commit of a Hub id (default main)");
  app->add_option("--prompt", a->prompts, "prompt text (repeat for a batch); needs the folder's tokenizer");
  app->add_option("--prompt-ids", a->prompt_ids, "prompt token ids, comma separated (repeat for a batch)");
  app->add_flag("--chat", a->chat, "wrap --prompt in the model's chat template as one user turn");
  app->add_option("--chat-template", a->chat_template, "built-in chat template name instead of the detected one");
  app->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate at most")->check(CLI::NonNegativeNumber);
  app->add_option("--temperature", a->temperature, "0 = greedy; > 0 samples")->check(CLI::NonNegativeNumber);
  app->add_option("--top-p", a->top_p, "nucleus mass in (0, 1]")->check(CLI::Range(0.0, 1.0));
  app->add_option("--seed", a->seed, "sampling seed (same seed, same text)");
  app->add_option("--stop", a->stop, "stop string (repeatable; needs a tokenizer)");
  app->add_option("--eos-id", a->eos, "extra end-of-sequence id (repeatable)");
  app->add_flag("--json", a->json, "print JSON: ids, text, per-token log-probs, stop reason");
  app->add_option("--dtype", a->dtype, "auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16");
  app->add_option("--device", a->device, "auto (a GPU when t2 has CUDA and one is visible), cpu, cuda, cuda:N");
  app->add_option("--tp", a->tp, "tensor-parallel ranks (run under mpirun -np N)")->check(CLI::PositiveNumber);
  // Transformer²
  app->add_option("--experts", a->experts, "SVF expert files E1.h5,E2.safetensors,... (.h5 or t2 experts export's safetensors)")->delimiter(',');
  app->add_option("--adapt", a->adapt,
                  "two-pass self-adaptation: prompt (the model classifies the question), cls (the classifier expert "
                  "does), fewshot (a mixture of the experts, --alpha)");
  app->add_option("--classifier", a->classifier, "the classifier expert of --adapt cls");
  app->add_option("--route", a->route,
                  "label=FILE,... which expert serves code, math, reasoning, other (default: each expert's task "
                  "family; 'other' uses the base weights)")
      ->delimiter(',');
  app->add_option("--alpha", a->alpha, "fewshot mixture coefficients, one per expert (or per expert per matrix)")
      ->delimiter(',');
  app->add_option("--mixing", a->mixing, "fewshot mixing: multiplier (sum of sigmoid(z)), logit (sigmoid of the sum of z) or raw_z (the reference)");
  app->add_option("--svd", a->svd_dir, "SVD factors from t2 decompose (default MODEL_DIR/t2-svd)");
  app->add_option("--peft", a->peft,
                  "a PEFT adapter folder (adapter_config.json + adapter_model.safetensors: LoRA, DoRA or IA3) "
                  "applied to the model");
  app->add_option("--label", a->label, "skip the classification pass: route as if it answered LABEL");
  app->add_option("--dispatch-compat", a->dispatch_compat,
                  "fixed ('other' gets the base weights) or original (the last loaded expert, as the reference)");
  app->add_option("--classify-max-new-tokens", a->classify_max_new_tokens, "token budget of the classification pass")
      ->check(CLI::PositiveNumber);
  return {app, [a]() -> int { return run_generate(*a); }};
}

}  // namespace t2::cli
