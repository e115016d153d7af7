// The worker side of a campaign (work-executor.h). Torch lives here, not in the header.
#include "workers/work-executor.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "cluster/communicator.h"
#include "coordinator/campaign-data.h"
#include "coordinator/work-payload.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include <spdlog/spdlog.h>
#include "experts/cem.h"
#include "experts/decompose.h"
#include "experts/peft-file.h"
#include "experts/peft-train.h"
#include "experts/reinforce-step.h"
#include "experts/svf-next-token.h"
#include "experts/transformer-policy.h"
#include "experts/z-layout.h"
#include "jobs/layer-list.h"
#include "jobs/task-target.h"
#include "results/run-records.h"
#include "workers/chat-template.h"
#include "workers/model.h"
#include "workers/stop-strings.h"
#include "workers/tokenizer.h"

namespace t2 {

std::string run_svd_dir(const std::string& run_dir, const std::string& model) { return run_dir + "/svd/" + model; }

namespace {

std::string load_dtype(const std::string& campaign_dtype) {
  if (campaign_dtype == "fp32") return "float32";
  if (campaign_dtype == "bf16") return "bfloat16";
  if (campaign_dtype == "fp16") return "float16";
  return "auto";
}

std::string gold_text(const nlohmann::json& gold) {
  if (gold.is_object() && gold.contains("answer")) {
    const auto& a = gold["answer"];
    return a.is_string() ? a.get<std::string>() : a.dump();
  }
  return gold.is_null() ? "" : gold.dump();
}

torch::Tensor rows_tensor(const std::vector<float>& flat, int64_t rows, int64_t total) {
  T2_CHECK(static_cast<int64_t>(flat.size()) == rows * total, "multiplier rows: {} floats for {} rows of {}", flat.size(),
           rows, total);
  // host: adapt_multipliers moves the rows to the model's device
  return torch::from_blob(const_cast<float*>(flat.data()), {rows, total}, torch::kFloat).clone();
}

// The adapter of a train_peft job from the payload's "peft" settings (coordinator/campaign-jobs.cpp).
PeftConfig peft_config_of(const nlohmann::json& j, const std::string& base_model) {
  PeftConfig c;
  c.method = parse_peft_method(j.at("method").get<std::string>());
  c.r = j.value("r", int64_t{16});
  c.lora_alpha = j.value("alpha", 32.0);
  c.lora_dropout = c.method == PeftMethod::ia3 ? 0.0 : j.value("dropout", 0.05);
  const std::string modules = j.value("modules", std::string("attn"));
  T2_CHECK_AS(UsageError, modules == "attn" || modules == "all", "PEFT modules '{}' (expected attn or all)", modules);
  if (modules == "all") {
    c.target_modules = c.method == PeftMethod::ia3
                           ? std::vector<std::string>{"k_proj", "v_proj", "gate_proj", "up_proj", "down_proj"}
                           : std::vector<std::string>{"q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"};
    if (c.method == PeftMethod::ia3) c.feedforward_modules = {"down_proj"};
  }
  c.base_model_name_or_path = base_model;
  return c;
}

}  // namespace

struct WorkExecutor::Impl {
  const Campaign& campaign;
  std::string run_dir;
  ExecutorPlacement place;
  CampaignTasks tasks;

  std::string model_name;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<TransformerPolicy> policy;
  // A PEFT adapter on the model (train_peft and the lora/ia3/dora evaluations): a trainer for one
  // job's settings, or an adapter read from a run directory; never at the same time as `policy`.
  std::unique_ptr<PeftTrainer> peft_trainer;
  bool peft_attached = false;
  std::string peft_key;
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;  // by name

  Impl(const Campaign& c, std::string dir, ExecutorPlacement p)
      : campaign(c), run_dir(std::move(dir)), place(p), tasks(c) {}

  const ModelSpec& spec(const std::string& name) const {
    const ModelSpec* m = campaign.find_model(name);
    T2_CHECK_AS(UsageError, m, "'{}' is not a model of campaign {}", name, campaign.file);
    return *m;
  }

  void ensure_model(const std::string& name) {
    if (model && model_name == name) return;
    drop_peft();
    policy.reset();
    model.reset();
    templates.clear();
    const ModelSpec& s = spec(name);
    LoadOptions lo;
    lo.dtype = load_dtype(s.dtype);
    lo.device = place.device;
    lo.tp_comm = place.tp_comm;
    spdlog::info("loading model {} from {}", name, s.path);
    model = Model::load(s.path, lo);
    // models.<m>.tokenizer: a folder with the tokenizer files, when not the model's own
    tok = Tokenizer::load(s.params.value("tokenizer", nlohmann::json()).is_string()
                              ? s.params["tokenizer"].get<std::string>()
                              : s.path);
    model_name = name;
  }

  TransformerPolicy& ensure_policy() {
    drop_peft();
    if (!policy) policy = std::make_unique<TransformerPolicy>(*model, run_svd_dir(run_dir, model_name));
    return *policy;
  }

  void drop_peft() {
    peft_trainer.reset();  // detaches its adapters
    if (peft_attached && model) model->clear_adapters();
    peft_attached = false;
    peft_key.clear();
  }

  // The trainer of the payload's PEFT settings with the payload's values installed.
  PeftTrainer& peft_with_params(const Payload& in) {
    const auto& j = in.meta.at("peft");
    const std::string key = "train:" + j.dump();
    if (!peft_trainer || peft_key != key) {
      policy.reset();
      drop_peft();
      const uint64_t seed = j.value("seed", uint64_t{0});
      PeftConfig cfg = peft_config_of(j, spec(model_name).path);
      peft_trainer = std::make_unique<PeftTrainer>(*model, peft_init(*model, cfg, seed),
                                                   parse_peft_objective(j.value("objective", std::string("next_token"))),
                                                   OptimizerConfig{}, seed);
      peft_key = key;
    }
    // the coordinator's values are full: each rank of a TP group takes its shards
    if (in.has("peft")) peft_trainer->set_full_parameters(in.floats("peft"), in.meta.value("step", int64_t{0}));
    return *peft_trainer;
  }

  // An adapter saved in PEFT's layout, attached for evaluation (kept while items for it keep coming).
  void peft_from_dir(const std::string& dir) {
    const std::string key = "dir:" + dir;
    if (peft_attached && peft_key == key) return;
    policy.reset();
    drop_peft();
    peft_attach(*model, read_peft(dir), /*trainable=*/false);
    peft_attached = true;
    peft_key = key;
  }

  const ChatTemplate& template_for(const tasks::Task& task) {
    std::string name = task.chat_template() == "code_prompt" ? "code_prompt" : spec(model_name).chat_template;
    auto it = templates.find(name);
    if (it != templates.end()) return *it->second;
    std::unique_ptr<ChatTemplate> t =
        name == "auto" || name == "none" || name.empty() ? ChatTemplate::for_tokenizer(*tok) : ChatTemplate::by_name(name);
    return *templates.emplace(name, std::move(t)).first->second;
  }

  std::vector<int32_t> encode(const tasks::Task& task, const tasks::Example& ex, std::string* text) {
    std::vector<ChatMessage> msgs;
    for (const auto& m : ex.messages) msgs.push_back({m.role, m.content, {}, ""});
    const ChatTemplate& t = template_for(task);
    if (text) *text = t.render(msgs, true, ex.assistant_prefill);
    return encode_chat(*tok, t, msgs, true, ex.assistant_prefill);
  }

  GenerateOptions gen_options(const CampaignTask& ct, const nlohmann::json& meta) {
    GenerateOptions o;
    o.max_new_tokens = meta.value("max_new_tokens", ct.max_new_tokens());
    o.temperature = meta.value("temperature", 0.0);
    o.top_p = meta.value("top_p", 1.0);
    o.seed = meta.value("seed", uint64_t{0});
    o.stop_strings = ct.stop_strings();
    return o;
  }

  Detokenizer detok() {
    return [this](const std::vector<int32_t>& ids) { return tok->decode(ids, true); };
  }

  // How many trailing ids of a generation spelled the stop string it stopped on (0 otherwise): they
  // get no policy gradient and no log-likelihood (docs/experts.md).
  int64_t stop_tokens(const Generation& g) {
    if (g.stop_reason != "stop_string") return 0;
    return static_cast<int64_t>(g.ids.size() - answer_token_count(g.ids, g.text, detok()));
  }

  // Generation under whatever adaptation is installed (policy or plain model).
  std::vector<Generation> run_generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
    if (policy) return policy->generate_full(prompts, o, detok());
    return model->generate(prompts, o, detok());
  }

  std::vector<std::string> route_labels(const nlohmann::json& route) {
    return route.at("labels").get<std::vector<std::string>>();
  }

  std::string do_decompose(const WorkItem& item, const Payload& in) {
    const ModelSpec& s = spec(item.model);
    DecomposeOptions o;
    o.modules = in.meta.value("modules", std::string("mlp"));
    if (o.modules == "auto") o.modules = "mlp";
    o.layers = parse_layer_list(in.meta.value("layers", std::string("all")));
    o.fp64 = in.meta.value("dtype", std::string("fp32")) == "fp64";
    o.tp = place.tp_comm ? place.tp_comm->size() : 1;
    o.out_dir = run_svd_dir(run_dir, item.model);
    o.rank = place.tp_comm ? place.tp_comm->rank() : 0;
    o.world = o.tp;
    o.assemble = o.tp == 1;  // a group's ranks only write parts; its leader assembles after the barrier
    make_dirs(o.out_dir);
    DecomposeReport rep = decompose_model(s.path, o);
    if (place.tp_comm && place.tp_comm->size() > 1) {
      // Every rank wrote its matrices; the leader alone assembles the shard files from the parts.
      place.tp_comm->barrier(CollectiveOptions{Seconds(6 * 3600)});
      if (place.leader && rep.files.empty()) {
        o.rank = 0;
        o.world = 1;
        o.assemble = true;
        rep = decompose_model(s.path, o);
      }
      place.tp_comm->barrier(CollectiveOptions{Seconds(6 * 3600)});
    }
    policy.reset();  // a new decomposition: rebuild the adapters on next use
    Payload out;
    out.meta = {{"source_hash", rep.source_hash}, {"matrices", rep.matrices.size()}, {"reused", rep.reused}};
    return pack_payload(out);
  }

  // Installs the item's adaptation for `rows` sequences; returns the route name of each row.
  std::vector<std::string> adapt(const Payload& in, const CampaignTask& ct, const std::vector<tasks::Example>& exs,
                                 int64_t samples) {
    const std::string mode = in.meta.value("adapt", std::string("base"));
    const size_t rows = exs.size() * static_cast<size_t>(samples);
    const std::string name = in.meta.value("route_name", mode);
    if (mode == "base") {
      if (policy) policy->adapt_base();
      drop_peft();
      return std::vector<std::string>(rows, "base");
    }
    if (mode == "peft") {  // a PEFT adapter: from a run directory, or the values of a training step
      if (in.meta.contains("peft_dir"))
        peft_from_dir(in.meta.at("peft_dir").get<std::string>());
      else
        peft_with_params(in);
      return std::vector<std::string>(rows, name);
    }
    TransformerPolicy& p = ensure_policy();
    const int64_t total = p.layout().total();
    if (mode == "z") {
      p.adapt_expert(in.floats("z"));
      return std::vector<std::string>(rows, name);
    }
    if (mode == "m") {
      p.adapt_multipliers(in.floats("m"));
      return std::vector<std::string>(rows, name);
    }
    T2_CHECK_AS(UsageError, mode == "route", "unknown adaptation '{}'", mode);
    // Two-pass dispatch (METHOD.md §6.1/§6.2): classify every question, then one batch in which each
    // row carries its expert's multipliers (base rows: uniform multipliers, which reproduce W).
    const auto& route = in.meta.at("route");
    const std::string strategy = route.value("strategy", std::string("prompt"));
    std::vector<std::vector<int32_t>> cls_prompts;
    // the first pass under the evaluated task's template, prefill, budget and stop strings (§6.1)
    for (const auto& ex : exs) cls_prompts.push_back(encode(ct.task(), tasks::first_pass_example(ct.task(), ex), nullptr));
    if (strategy == "cls")
      p.adapt_expert(in.floats("cls_z"));
    else
      p.adapt_base();
    GenerateOptions co;
    co.max_new_tokens = route.value("max_new_tokens", ct.max_new_tokens());
    co.stop_strings = ct.stop_strings();
    auto labels_gen = run_generate(cls_prompts, co);
    std::map<std::string, std::vector<float>> mult;  // label -> sigmoid(z)
    for (const auto& label : route_labels(route)) mult[label] = z_multipliers(in.floats("z:" + label));
    const std::string other = route.value("other", std::string("base"));
    const std::string last = route.value("last", std::string());
    std::vector<float> flat;
    flat.reserve(rows * static_cast<size_t>(total));
    std::vector<std::string> names;
    const bool cs = ct.task().options().has_compat(tasks::compat::cls_case_sensitive);
    for (size_t i = 0; i < exs.size(); ++i) {
      std::string label = tasks::dispatch_label(labels_gen[i].text, cs);
      std::string use = mult.count(label) ? label : (other == "last_expert" && mult.count(last) ? last : "");
      for (int64_t k = 0; k < samples; ++k) {
        if (use.empty()) {
          flat.insert(flat.end(), static_cast<size_t>(total), 1.0f);
        } else {
          const auto& m = mult[use];
          flat.insert(flat.end(), m.begin(), m.end());
        }
        names.push_back(label + "->" + (use.empty() ? "base" : use));
      }
    }
    p.adapt_multipliers(rows_tensor(flat, static_cast<int64_t>(rows), total));
    return names;
  }

  std::string do_generate(const WorkItem& item, const Payload& in) {
    const auto& ct = tasks.get(in.meta.at("task").get<std::string>());
    const auto& all = ct.examples(in.meta.at("role").get<std::string>());
    std::vector<tasks::Example> exs;
    std::vector<int64_t> indices = in.meta.at("indices").get<std::vector<int64_t>>();
    for (int64_t i : indices) {
      T2_CHECK_AS(UsageError, i >= 0 && size_t(i) < all.size(), "{}: example {} of {} {} does not exist ({} examples)",
                  item.describe(), i, ct.spec().name, in.meta.at("role").get<std::string>(), all.size());
      exs.push_back(all[size_t(i)]);
    }
    const int64_t samples = in.meta.value("samples", int64_t{1});
    auto routes = adapt(in, ct, exs, samples);
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::string> texts;
    std::vector<tasks::Example> rows;
    for (const auto& ex : exs) {
      std::string text;
      auto ids = encode(ct.task(), ex, &text);
      for (int64_t k = 0; k < samples; ++k) {
        prompts.push_back(ids);
        texts.push_back(text);
        rows.push_back(ex);
      }
    }
    auto gens = run_generate(prompts, gen_options(ct, in.meta));
    Payload out;
    if (!place.leader) return pack_payload(out);
    std::vector<std::string> responses;
    for (const auto& g : gens) responses.push_back(g.text);
    auto verdicts = tasks::score_batch(ct.task(), rows, responses, 2);
    nlohmann::json recs = nlohmann::json::array();
    std::vector<double> rewards;
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto& v = verdicts[r];
      recs.push_back({{"example_id", rows[r].id},
                      {"example_index", indices[r / size_t(samples)]},
                      {"prompt_hash", results::prompt_hash(texts[r])},
                      {"prompt", texts[r]},
                      {"response", responses[r]},
                      {"extracted", v.extracted},
                      {"parsed", v.parsed},
                      {"reference", gold_text(rows[r].gold)},
                      {"score", v.correct ? 1.0 : 0.0},
                      {"route", routes[r]},
                      {"prompt_tokens", prompts[r].size()},
                      {"response_tokens", gens[r].ids.size()},
                      {"reward", v.reward}});
    }
    out.meta["records"] = std::move(recs);
    if (in.meta.value("return_tokens", false)) {
      std::vector<std::vector<int32_t>> ids;
      for (const auto& g : gens) {
        // the policy gradient sees the answer only, not the tokens that spelled a stop string
        TokenSeq a = answer_tokens(TokenSeq(g.ids.begin(), g.ids.end()), stop_tokens(g));
        ids.emplace_back(a.begin(), a.end());
      }
      out.sequences("tokens", ids);
    }
    return pack_payload(out);
  }

  std::string do_grad(const WorkItem& item, const Payload& in) {
    const auto& ct = tasks.get(in.meta.at("task").get<std::string>());
    const auto& all = ct.examples(in.meta.at("role").get<std::string>());
    TransformerPolicy& p = ensure_policy();
    std::vector<TokenSeq> prompts, completions;
    for (int64_t i : in.meta.at("indices").get<std::vector<int64_t>>()) {
      T2_CHECK_AS(UsageError, i >= 0 && size_t(i) < all.size(), "{}: example {} does not exist", item.describe(), i);
      auto ids = encode(ct.task(), all[size_t(i)], nullptr);
      prompts.emplace_back(ids.begin(), ids.end());
    }
    for (const auto& s : in.sequences("completions")) completions.emplace_back(s.begin(), s.end());
    ReinforceConfig rc;
    rc.kl_coeff = in.meta.value("kl_coef", 0.0);
    rc.kl_direction = kl_direction_from_name(in.meta.value("kl_direction", std::string("ref_policy")));
    auto adv = in.meta.at("advantages").get<std::vector<double>>();
    const int64_t batch_samples = in.meta.at("batch_samples").get<int64_t>();
    const auto z = in.floats("z");
    // Micro-batches (campaign key micro_batch): the shard's loss is a sum over rollouts, so the
    // gradients of slices add up to the shard's; only one slice's activations exist at a time.
    const size_t n = completions.size(), mb = static_cast<size_t>(std::max<int64_t>(in.meta.value("micro_batch", int64_t{0}), 0));
    T2_CHECK_AS(FormatError, prompts.size() == n && adv.size() == n, "{}: {} prompts, {} completions, {} advantages",
                item.describe(), prompts.size(), n, adv.size());
    const std::string recompute = in.meta.value("recompute", std::string("none"));
    T2_CHECK_AS(FormatError, recompute == "none" || recompute == "layer", "{}: recompute '{}' (none or layer)",
                item.describe(), recompute);
    p.set_layer_recompute(recompute == "layer");
    ShardGradient g;
    if (mb == 0 || n <= mb) {
      g = reinforce_shard_gradient(p, z, prompts, completions, adv, batch_samples, rc);
    } else {
      for (size_t at = 0; at < n; at += mb) {
        const auto e = static_cast<std::ptrdiff_t>(std::min(n, at + mb)), b = static_cast<std::ptrdiff_t>(at);
        std::vector<TokenSeq> ps(prompts.begin() + b, prompts.begin() + e), cs(completions.begin() + b, completions.begin() + e);
        std::vector<double> as(adv.begin() + b, adv.begin() + e);
        g = shard_gradient_add(g, reinforce_shard_gradient(p, z, ps, cs, as, batch_samples, rc));
      }
    }
    p.set_layer_recompute(false);
    p.adapt_base();
    Payload out;
    out.meta = {{"loss", g.loss}, {"kl", g.kl}, {"logp", g.logp}, {"samples", g.samples}};
    out.floats("grad", g.grad);
    return pack_payload(out);
  }

  // Prompts of examples of a task role, and their next-token targets (jobs/task-target.h).
  void training_pairs(const WorkItem& item, const Payload& in, std::vector<std::vector<int32_t>>* prompts,
                      std::vector<std::vector<int32_t>>* targets) {
    const auto& ct = tasks.get(in.meta.at("task").get<std::string>());
    const auto& all = ct.examples(in.meta.at("role").get<std::string>());
    for (int64_t i : in.meta.at("indices").get<std::vector<int64_t>>()) {
      T2_CHECK_AS(UsageError, i >= 0 && size_t(i) < all.size(), "{}: example {} does not exist", item.describe(), i);
      prompts->push_back(encode(ct.task(), all[size_t(i)], nullptr));
      if (targets) {
        auto t = tok->encode(tasks::next_token_target(ct.task(), all[size_t(i)]), /*allow_special=*/false);
        if (!tok->eos_ids().empty()) t.push_back(tok->eos_ids().front());  // learn to stop
        targets->push_back(std::move(t));
      }
    }
  }

  // The initial values of a train_peft job's adapter (PEFT's initialisation, seeded).
  std::string do_peft_init(const WorkItem&, const Payload& in) {
    drop_peft();  // a fresh trainer: a cached one of the same settings holds another job's values
    PeftTrainer& t = peft_with_params(in);
    Payload out;
    out.meta = {{"parameters", t.num_full_parameters()}};
    out.floats("params", t.full_parameters());  // unsharded: the coordinator keeps the whole adapter
    return pack_payload(out);
  }

  // One shard's gradient of a train_peft step: next_token (targets: the solutions) or policy_gradient
  // (targets: the rollouts, with their advantages). Sums over the shard (batch_count 1, or the whole
  // batch's sample count for policy_gradient); "count" lets the coordinator normalise next_token.
  std::string do_peft_grad(const WorkItem& item, const Payload& in) {
    PeftTrainer& t = peft_with_params(in);
    const bool pg = in.meta.at("peft").value("objective", std::string("next_token")) == "policy_gradient";
    std::vector<std::vector<int32_t>> prompts, targets;
    training_pairs(item, in, &prompts, pg ? nullptr : &targets);
    std::vector<PeftExample> shard;
    std::vector<double> adv;
    if (pg) {
      adv = in.meta.at("advantages").get<std::vector<double>>();
      auto comp = in.sequences("completions");
      T2_CHECK_AS(UsageError, comp.size() == prompts.size() && adv.size() == prompts.size(),
                  "{}: {} prompts, {} completions, {} advantages", item.describe(), prompts.size(), comp.size(), adv.size());
      for (size_t i = 0; i < prompts.size(); ++i) shard.push_back({prompts[i], comp[i], adv[i]});
    } else {
      for (size_t i = 0; i < prompts.size(); ++i) shard.push_back({prompts[i], targets[i], 1.0});
    }
    const int64_t count = PeftTrainer::batch_count(shard, pg ? PeftObjective::policy_gradient : PeftObjective::next_token);
    auto g = t.grad(shard, in.meta.value("batch_count", int64_t{1}), static_cast<int>(in.meta.value("shard", int64_t{0})));
    Payload out;
    out.meta = {{"loss", g.loss}, {"count", count}, {"samples", static_cast<int64_t>(shard.size())}};
    out.floats("grad", t.full_grad(g.grad));  // the group's shards gathered (every rank takes part)
    return pack_payload(out);
  }

  // The chosen values of a train_peft job written in PEFT's layout (experts/peft-file.h), replaced
  // atomically: a folder beside it, then a rename.
  std::string do_peft_save(const WorkItem&, const Payload& in) {
    PeftTrainer& t = peft_with_params(in);
    PeftAdapter a = t.adapter();
    Payload out;
    if (place.leader) {
      const std::string dir = in.meta.at("dir").get<std::string>();
      const std::string tmp = dir + ".tmp";
      std::filesystem::remove_all(tmp);
      write_peft(tmp, a);
      std::filesystem::remove_all(dir);
      std::filesystem::rename(tmp, dir);
    }
    out.meta = {{"parameters", a.trainable_parameters()}};
    return pack_payload(out);
  }

  // SVF with the next-token objective (Table 4 row 4): one shard's dL/dz, summed over its tokens.
  std::string do_svf_next_token(const WorkItem& item, const Payload& in) {
    TransformerPolicy& p = ensure_policy();
    std::vector<std::vector<int32_t>> prompts32, targets32;
    training_pairs(item, in, &prompts32, &targets32);
    std::vector<TokenSeq> prompts, targets;
    int64_t count = 0;
    for (size_t i = 0; i < prompts32.size(); ++i) {
      prompts.emplace_back(prompts32[i].begin(), prompts32[i].end());
      targets.emplace_back(targets32[i].begin(), targets32[i].end());
      count += static_cast<int64_t>(targets32[i].size());
    }
    SvfNextTokenGrad g = svf_next_token_gradient(p, in.floats("z"), prompts, targets, 1);
    p.adapt_base();
    Payload out;
    out.meta = {{"loss", g.loss}, {"count", count}, {"samples", static_cast<int64_t>(prompts.size())}};
    out.floats("grad", g.grad);
    return pack_payload(out);
  }

  std::string do_cem(const WorkItem& item, const Payload& in) {
    const auto& ct = tasks.get(in.meta.at("task").get<std::string>());
    const auto& shots = ct.examples(in.meta.at("role").get<std::string>());
    TransformerPolicy& p = ensure_policy();
    const int64_t total = p.layout().total();
    const int64_t C = in.meta.at("candidates").get<int64_t>();
    auto m = in.floats("m");
    T2_CHECK_AS(FormatError, static_cast<int64_t>(m.size()) == C * total, "{}: {} multipliers for {} candidates of {}",
                item.describe(), m.size(), C, total);
    // Every candidate x every shot in ONE batch, each row with its candidate's multipliers.
    std::vector<std::vector<int32_t>> prompts;
    std::vector<tasks::Example> rows;
    std::vector<float> flat;
    std::vector<std::vector<int32_t>> shot_ids;
    for (const auto& ex : shots) shot_ids.push_back(encode(ct.task(), ex, nullptr));
    for (int64_t c = 0; c < C; ++c)
      for (size_t s = 0; s < shots.size(); ++s) {
        prompts.push_back(shot_ids[s]);
        rows.push_back(shots[s]);
        flat.insert(flat.end(), m.begin() + c * total, m.begin() + (c + 1) * total);
      }
    p.adapt_multipliers(rows_tensor(flat, static_cast<int64_t>(prompts.size()), total));
    GenerateOptions o = gen_options(ct, in.meta);
    auto gens = p.generate_full(prompts, o, detok());
    p.adapt_base();
    Payload out;
    if (!place.leader) return pack_payload(out);
    std::vector<std::string> responses;
    for (const auto& g : gens) responses.push_back(g.text);
    auto verdicts = tasks::score_batch(ct.task(), rows, responses, 2);
    std::vector<double> acc, ll;
    const size_t S = shots.size();
    for (int64_t c = 0; c < C; ++c) {
      double correct = 0, lp = 0, n = 0;
      for (size_t s = 0; s < S; ++s) {
        size_t r = size_t(c) * S + s;
        if (!verdicts[r].correct) continue;
        correct += 1;
        const AnswerLoglik a = answer_loglik(gens[r].logprobs, stop_tokens(gens[r]));  // without the stop string
        lp += a.sum;
        n += double(a.tokens);
      }
      acc.push_back(S ? correct / double(S) : 0.0);
      ll.push_back(n > 0 ? lp / n : -1e30);
    }
    out.meta = {{"accuracy", acc}, {"loglik", ll}};
    return pack_payload(out);
  }
};

WorkExecutor::WorkExecutor(const Campaign& campaign, std::string run_dir, ExecutorPlacement placement)
    : impl_(std::make_unique<Impl>(campaign, std::move(run_dir), placement)) {}
WorkExecutor::~WorkExecutor() = default;

std::string WorkExecutor::execute(const WorkItem& item) {
  Payload in = unpack_payload(item.payload, item.describe());
  impl_->ensure_model(item.model);
  if (item.kind == "decompose") return impl_->do_decompose(item, in);
  if (item.kind == "generate") return impl_->do_generate(item, in);
  if (item.kind == "grad") return impl_->do_grad(item, in);
  if (item.kind == "cem") return impl_->do_cem(item, in);
  if (item.kind == "peft_init") return impl_->do_peft_init(item, in);
  if (item.kind == "peft_grad") return impl_->do_peft_grad(item, in);
  if (item.kind == "peft_save") return impl_->do_peft_save(item, in);
  if (item.kind == "svf_next_token") return impl_->do_svf_next_token(item, in);
  throw UsageError(item.describe() + ": unknown work kind '" + item.kind + "'");
}

}  // namespace t2
