#include "jobs/registry-builtin.h"

#include "jobs/user-task-spec.h"
#include "jobs/layer-list.h"

#include <set>

namespace t2 {

namespace {

using nlohmann::json;

ParamSpec p_int(const std::string& name, long long def, std::function<std::string(const json&)> check,
                const std::string& range, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = ParamType::integer, s.default_value = def, s.sweepable = true;
  s.check = std::move(check), s.range = range, s.doc = doc;
  return s;
}

ParamSpec p_num(const std::string& name, double def, std::function<std::string(const json&)> check,
                const std::string& range, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = ParamType::number, s.default_value = def, s.sweepable = true;
  s.check = std::move(check), s.range = range, s.doc = doc;
  return s;
}

ParamSpec p_bool(const std::string& name, bool def, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = ParamType::boolean, s.default_value = def, s.sweepable = true, s.doc = doc;
  return s;
}

ParamSpec p_choice(const std::string& name, std::vector<std::string> choices, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = ParamType::choice, s.default_value = choices.front(), s.sweepable = true;
  s.choices = std::move(choices), s.doc = doc;
  return s;
}

ParamSpec p_string(const std::string& name, json def, bool nullable, const std::string& doc) {
  ParamSpec s;
  s.name = name, s.type = ParamType::string, s.default_value = std::move(def), s.nullable = nullable, s.doc = doc;
  return s;
}

// A key whose other values t2 run does not implement: they are refused when the campaign loads
// (exit 2), not after hours of earlier jobs.
ParamSpec not_implemented(ParamSpec s, const json& only) {
  s.check = [only, name = s.name](const json& v) -> std::string {
    return v == only ? "" : "expected " + only.dump() + " (" + name + " " + v.dump() + " is not implemented in t2 run)";
  };
  return s;
}

// Cross-model transfer (Tables 5, 9; experts/svf-transfer.h): experts trained on another model of the
// campaign, applied to this one; allowed only when asked for.
std::vector<ParamSpec> transfer_params() {
  ParamSpec from = p_string("transfer_from", nullptr, true,
                            "a model of the campaign whose experts are applied to this experiment's models (the same "
                            "adapted shapes; null: each model's own experts)");
  ParamSpec order = p_choice("sigma_order", {"ordered", "shuffled"},
                             "transferred z as trained, or permuted within each matrix (seeded by the job's seed)");
  from.sweepable = false;
  return {from, order};
}

// "all", a layer list (jobs/layer-list.h), or (allow_auto) "auto".
ParamSpec p_layers(const std::string& def, bool allow_auto, const std::string& doc) {
  ParamSpec s = p_string("layers", def, false, doc);
  s.check = [allow_auto](const json& v) -> std::string {
    if (allow_auto && v == "auto") return "";
    try {
      parse_layer_list(v.get<std::string>());
      return "";
    } catch (const std::exception& e) {
      return std::string("expected ") + (allow_auto ? "auto, " : "") + "all or a layer list like 0-39 or 0,2,4-7";
    }
  };
  return s;
}

std::string positive_fraction(const json& v) {
  double x = v.get<double>();
  return x > 0 && x <= 1 ? "" : "expected a value in (0, 1]";
}

// REINFORCE hyperparameters shared by train_expert and classifier_expert (METHOD.md §4.1, §11).
std::vector<ParamSpec> reinforce_params() {
  std::vector<ParamSpec> p = {
      p_int("steps", 200, rule_at_least(1), ">= 1", "optimisation steps (train_task_expert.sh: 200)"),
      p_int("batch_size", 256, rule_at_least(1), ">= 1", "prompts per step, clipped to the training split"),
      p_num("lr", 2e-3, rule_greater(0), "> 0", "learning rate"),
      p_choice("optimizer", train_optimizers().names(), "adam (reference code) or adamw (paper)"),
      p_num("weight_decay", 0.0, rule_at_least(0), ">= 0", "AdamW weight decay"),
      p_choice("schedule", {"none", "cosine"}, "learning-rate schedule (paper: cosine)"),
      p_num("clip", 1e-3, rule_greater(0), "> 0", "gradient-norm clip on z (null: no clipping)"),
      p_num("kl_coef", 0.0, rule_at_least(0), ">= 0", "KL penalty weight lambda (paper sweeps 0, 0.1, 0.2, 0.3)"),
      p_choice("kl_direction", {"ref_to_policy", "policy_to_ref"},
               "ref_to_policy = KL(pi_ref || pi) as coded; policy_to_ref = the paper's direction"),
      p_choice("rollout", {"greedy", "sample"}, "how rollouts are generated (reference: greedy)"),
      p_num("temperature", 1.0, rule_greater(0), "> 0", "sampling temperature when rollout = sample"),
      p_num("top_p", 1.0, positive_fraction, "(0, 1]", "nucleus sampling when rollout = sample"),
      p_int("samples_per_prompt", 1, rule_at_least(1), ">= 1", "rollouts per prompt"),
      p_int("micro_batch", 0, rule_at_least(0), ">= 0",
            "rollouts per forward/backward of a gradient work item (0: the item's whole shard at once); "
            "bounds the activations a worker holds (t2 plan --micro-batch)"),
      p_choice("recompute", {"layer", "none"},
               "activations of a gradient item: layer (keep each layer's input, rerun the layer in backward: one "
               "layer's activations at a time) or none (keep every layer's; faster, more memory)"),
      p_choice("baseline", {"none", "batch_mean", "group_mean"}, "reward baseline (group_mean needs samples_per_prompt >= 2)"),
      p_int("valid_every", 10, rule_at_least(1), ">= 1", "steps between validation evaluations"),
      p_num("init_mean", 0.1, nullptr, "any", "z initial mean"),
      p_num("init_std", 0.01, rule_at_least(0), ">= 0", "z initial standard deviation"),
      p_num("max_mult", 1.0, rule_greater(0), "> 0", "multiplier m = sigmoid(z) * max_mult"),
      p_choice("modules", {"mlp", "attn", "attn_qkvo", "all", "all_qkvo"},
               "adapted matrices: MLP (reference), attention q/v (the paper's ablation), attention q/k/v/o, "
               "MLP + q/v, MLP + q/k/v/o"),
      p_layers("all", false, "decoder layers whose matrices are adapted (the paper's 70B: half, e.g. 0-39); the "
                             "others keep W"),
      p_num("reward_correct", 1.0, nullptr, "any", "reward of a correct answer"),
      p_num("reward_wrong", -1.0, nullptr, "any", "reward of a wrong answer"),
      p_num("reward_unparsed", -1.0, nullptr, "any", "reward when no answer could be extracted"),
      p_choice("select", {"best_valid", "last"}, "which checkpoint becomes the expert"),
      p_choice("z_dtype", {"fp32", "bf16"}, "dtype of z and Adam state (reference: bf16)"),
  };
  for (auto& s : p)
    if (s.name == "clip") s.nullable = true;
  return p;
}

// The training objective (Table 4): REINFORCE on the task's reward, or next-token prediction of the
// training examples' solutions (jobs/task-target.h).
ParamSpec objective_param(const std::string& def, const std::string& doc) {
  ParamSpec s = p_choice("objective", {"policy_gradient", "next_token"}, doc);
  s.default_value = def;
  return s;
}

// The parameter-efficient baselines (METHOD.md §7, Table 7): the paper's LoRA (q,v, r 16, alpha 32,
// dropout 0.05, batch 256, next-token prediction of the solutions); lr and clip from the campaign.
// The REINFORCE keys that only SVF has (kl, z init, max_mult, z_dtype, modules) are left out.
std::vector<ParamSpec> peft_params() {
  std::vector<ParamSpec> out;
  ParamSpec method = p_choice("method", {"lora", "ia3", "dora"}, "the adapter: LoRA, IA3 or DoRA (PEFT's definitions)");
  method.sweepable = false;  // one method per experiment; evaluate names it by method (lora: <experiment>)
  out.push_back(method);
  out.push_back(objective_param("next_token", "next_token (the paper's LoRA) or policy_gradient (Table 4 row 5)"));
  out.push_back(p_int("r", 16, rule_at_least(1), ">= 1", "LoRA/DoRA rank"));
  out.push_back(p_num("alpha", 32.0, rule_greater(0), "> 0", "LoRA/DoRA alpha (scaling alpha / r)"));
  out.push_back(p_num("dropout", 0.05, rule_between(0, 0.99), "[0, 0.99]", "LoRA/DoRA dropout on the adapter input"));
  out.push_back(p_choice("modules", {"attn", "all"},
                         "attn: the method's attention targets (LoRA/DoRA q,v; IA3 k,v,down as PEFT); all: "
                         "also gate, up and down (Table 4 row 7)"));
  for (auto& s : reinforce_params()) {
    // SVF-only keys; micro_batch and recompute are the SVF gradient item's (peft_grad scores its shard whole)
    static const std::set<std::string> svf_only = {"kl_coef",  "kl_direction", "init_mean", "init_std",
                                                   "max_mult", "modules",      "z_dtype",   "layers",
                                                   "micro_batch", "recompute"};
    if (svf_only.count(s.name)) continue;
    if (s.name == "lr") s.default_value = 5e-4, s.doc = "learning rate (paper sweeps 2e-6 .. 5e-4)";
    if (s.name == "clip") s.doc = "gradient-norm clip on the adapter (paper: 1e-3 or 1.0; null: none)";
    out.push_back(s);
  }
  return out;
}

void register_task_kinds(Registry<TaskKind>& r) {
  TaskKind t;
  t = {};
  t.family = "math", t.data_keys = {"train", "test"};
  t.default_data = {{"train", "data/gsm8k/train.jsonl"}, {"test", "data/gsm8k/test.jsonl"}};
  t.default_split = {{"train", "train|even"}, {"valid", "train|odd"}, {"test", "test"}};
  t.max_new_tokens = 512, t.compat = {"gsm8k_regex"};
  t.doc = "GSM8K (openai/grade-school-math JSONL)";
  r.add("gsm8k", t);

  t = {};
  t.family = "math", t.data_keys = {"train", "test"};
  t.default_data = {{"test", "data/math/math500_test.jsonl"}};
  t.default_split = {{"test", "test"}};
  t.max_new_tokens = 1024, t.shots_seed = 27, t.compat = {"math_tolerance"};
  t.doc = "MATH (competition math JSONL with problem/solution; MATH-500 by default)";
  r.add("math", t);

  t = {};
  t.family = "code", t.data_keys = {"problems"};
  t.default_data = {{"problems", "data/mbpp/sanitized-mbpp.json"}};
  t.default_split = {{"train", "problems|first:300|shuffle:16|first:200"},
                     {"valid", "problems|first:300|shuffle:16|range:200:300"},
                     {"test", "problems|range:300:399"}};
  t.max_new_tokens = 512, t.compat = {"mbpp_no_sanitize"};
  t.doc = "MBPP (problems 0-299 train pool, 300-398 test, METHOD.md §4.3)";
  r.add("mbpp", t);

  t = {};
  t.family = "code", t.data_keys = {"test"};
  t.default_data = {{"test", "data/humaneval/HumanEval.jsonl.gz"}};
  t.default_split = {{"test", "test"}};
  t.max_new_tokens = 512, t.shots_seed = 16;
  t.doc = "HumanEval (164 problems)";
  r.add("humaneval", t);

  t = {};
  t.family = "reasoning", t.data_keys = {"train", "validation", "test"};
  t.default_data = {{"train", "data/arc/ARC-Easy-Train.jsonl"}, {"test", "data/arc/ARC-Easy-Test.jsonl"}};
  t.default_split = {{"train", "train|even"}, {"valid", "train|odd"}, {"test", "test"}};
  t.max_new_tokens = 512, t.compat = {"arc_guess", "arc_raw_keys"};
  t.doc = "ARC-Easy (HF ai2_arc schema JSONL)";
  r.add("arc_easy", t);

  t = {};
  t.family = "reasoning", t.data_keys = {"train", "validation", "test"};
  // the train file gives few-shot examples and classifier data that are not test questions
  t.default_data = {{"train", "data/arc/ARC-Challenge-Train.jsonl"}, {"test", "data/arc/ARC-Challenge-Test.jsonl"}};
  t.default_split = {{"train", "train|even"}, {"valid", "train|odd"}, {"test", "test"}};
  t.max_new_tokens = 512, t.shots_seed = 38, t.compat = {"arc_guess", "arc_raw_keys"};
  t.doc = "ARC-Challenge (HF ai2_arc schema JSONL)";
  r.add("arc_challenge", t);

  t = {};
  t.family = "classification", t.data_keys = {};
  t.default_data = json::object();
  t.default_split = {{"train", "pool|mod:5:0,1,2,3|even"}, {"valid", "pool|mod:5:0,1,2,3|odd"}, {"test", "pool|mod:5:4"}};
  t.max_new_tokens = 1024, t.compat = {"cls_test_data", "cls_case_sensitive"};
  ParamSpec sources;
  sources.name = "sources", sources.type = ParamType::string_map;
  sources.default_value = {{"math", "gsm8k"}, {"code", "mbpp"}, {"reasoning", "arc_challenge"}};
  sources.doc = "label -> task whose test questions carry that label (METHOD.md §6.2)";
  t.extra = {sources, p_int("per_source", 399, rule_at_least(1), ">= 1", "questions taken from each source")};
  for (auto& s : t.extra) s.sweepable = false;
  t.doc = "the classification task of the classifier expert, built from other tasks (METHOD.md §6.2)";
  r.add("cls", t);

  t = {};
  t.family = "other", t.any_data_keys = true;
  t.default_data = json::object();
  t.default_split = {{"test", "test"}};
  t.max_new_tokens = 512;
  t.extra = user_task_specs();  // jobs/user-task-spec.h: the same keys as `t2 score user --spec FILE`
  t.doc = "a user task: JSONL records with a prompt template and a scorer";
  r.add("user", t);
}

void register_experiment_kinds(Registry<ExperimentKind>& r) {
  ExperimentKind k;
  k.axes = {"models"};
  k.params = {p_choice("modules", {"auto", "mlp", "attn", "attn_qkvo", "all", "all_qkvo"},
                       "matrices to decompose; auto = those the model's experts adapt"),
              p_layers("auto", true, "decoder layers to decompose; auto = those the model's experts adapt"),
              p_choice("dtype", {"fp32", "fp64"}, "SVD precision")};
  for (auto& s : k.params) s.sweepable = false;
  k.doc = "SVD of the adapted matrices, once per model (implicit when a job needs it)";
  r.add("decompose", k);

  k = {};
  k.axes = {"models", "tasks"};
  k.params = reinforce_params();
  k.params.push_back(objective_param("policy_gradient",
                                     "policy_gradient (REINFORCE, the method) or next_token (Table 4 row 4)"));
  k.doc = "train one SVF expert per (model, task, seed) with REINFORCE";
  r.add("train_expert", k);

  k = {};
  k.axes = {"models", "tasks"};
  k.params = peft_params();
  k.doc = "train one parameter-efficient baseline adapter (LoRA, IA3, DoRA) per (model, task, seed)";
  r.add("train_peft", k);

  k = {};
  k.axes = {"models"};
  k.params = reinforce_params();
  ParamSpec task = p_string("task", "cls", false, "the task of kind cls it is trained on");
  task.sweepable = false;
  k.params.insert(k.params.begin(), task);
  for (auto& s : k.params)
    if (s.name == "steps") s.default_value = 200;
  k.doc = "train the classification expert per (model, seed) (METHOD.md §6.2)";
  r.add("classifier_expert", k);

  k = {};
  k.axes = {"models", "tasks"};
  ParamSpec experts = p_string("experts", nullptr, true, "the train_expert experiment whose experts are mixed");
  experts.sweepable = false;
  ParamSpec init_mean = p_num("init_mean", 0.0, rule_between(0, 1), "[0, 1]", "initial mean of alpha (null: 1/K)");
  init_mean.default_value = nullptr, init_mean.nullable = true;
  ParamSpec shots_seed = p_int("shots_seed", 0, nullptr, "any", "seed of the shot shuffle (null: the task's default)");
  shots_seed.default_value = nullptr, shots_seed.nullable = true;
  k.params = {experts,
              p_choice("optimizer", search_optimizers().names(), "cem or random_shooting (§6.4)"),
              p_int("population", 32, rule_at_least(2), ">= 2", "candidates per generation"),
              p_int("elites", 6, rule_at_least(1), ">= 1, <= population", "elites per generation (CEM)"),
              p_int("generations", 50, rule_at_least(1), ">= 1", "generations (paper: up to 100)"),
              init_mean,
              p_num("init_std", 0.5, rule_at_least(0), ">= 0", "initial standard deviation of alpha"),
              p_num("alpha_min", 0.0, nullptr, "< alpha_max", "lower clamp of alpha"),
              p_num("alpha_max", 1.0, nullptr, "> alpha_min", "upper clamp of alpha"),
              p_bool("per_matrix", true, "one alpha per expert per adapted matrix (per_layer=true)"),
              not_implemented(p_bool("normalize", false, "divide alpha by its sum per matrix (norm_coeffs)"), false),
              p_choice("mixing", {"multiplier", "logit", "raw_z"},
                       "multiplier: mix sigmoid(z) (interpolates experts); logit: sigmoid of the mixed z (adds "
                       "experts' changes); raw_z: mix raw z without sigmoid (reference, §9.1)"),
              p_int("shots", 10, rule_at_least(1), ">= 1", "few-shot examples the search is scored on"),
              shots_seed,
              transfer_params()[0], transfer_params()[1],
              p_bool("loglik_tiebreak", true, "break accuracy ties by mean log-likelihood"),
              p_bool("re_eval_best", true, "member 0 of each generation is the previous best"),
              not_implemented(p_choice("select", {"final", "best_heldout"},
                                       "final: the last generation's best; best_heldout: best on the test "
                                       "remainder (reference)"),
                              "final")};
  k.doc = "search expert mixture weights on a few examples of an unseen task (CEM, METHOD.md §6.3)";
  r.add("fewshot_search", k);

  k = {};
  k.axes = {"models", "tasks", "methods"};
  ParamSpec classifier = p_string("classifier", nullptr, true, "the classifier_expert experiment (t2_cls)");
  ParamSpec fewshot = p_string("fewshot", nullptr, true, "the fewshot_search experiment (t2_fewshot)");
  ParamSpec dispatch;
  dispatch.name = "dispatch", dispatch.type = ParamType::string_map, dispatch.default_value = {{"other", "base"}};
  dispatch.doc = "other: base (paper) or last_expert (reference code, §6.1)";
  dispatch.check = [](const json& v) -> std::string {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() != "other") return "expected only the key 'other'";
      if (!other_routes().contains(it.value().get<std::string>()))
        return "expected other: one of " + join(other_routes().names());
    }
    return "";
  };
  ParamSpec limit = p_int("limit", 0, rule_at_least(1), ">= 1", "evaluate only the first N test items (null: all)");
  limit.default_value = nullptr, limit.nullable = true;
  std::vector<ParamSpec> adapters;
  for (const char* m : {"lora", "ia3", "dora"})
    adapters.push_back(p_string(m, nullptr, true, std::string("the train_peft experiment of method ") + m + " (method " + m + ")"));
  ParamSpec row = p_string("label", nullptr, true,
                           "the method key t2 table shows these cells under, also in the job ids (e.g. svf_nt_attn, "
                           "lora_pg for Table 4's rows; results/layout-tables.h); null: the method");
  ParamSpec expert_task = p_string("expert_task", nullptr, true,
                                   "svf, lora, ia3, dora: the expert / adapter trained on this task, on every evaluated "
                                   "task (Table 4's MATH column: the GSM8K expert); null: the evaluated task's own");
  k.params = {experts, classifier, fewshot, dispatch, adapters[0], adapters[1], adapters[2], row, expert_task,
              transfer_params()[0], transfer_params()[1],
              p_int("batch_size", 64, rule_at_least(1), ">= 1", "prompts per generation batch"),
              limit,
              p_num("temperature", 0.0, rule_at_least(0), ">= 0", "0 = greedy (reference)")};
  for (auto& s : k.params)
    if (s.name != "batch_size" && s.name != "temperature" && s.name != "sigma_order") s.sweepable = false;
  k.doc = "evaluate each method on each task";
  r.add("evaluate", k);
}

}  // namespace

Registry<std::string>& train_optimizers() {
  static Registry<std::string> r = [] {
    Registry<std::string> x("optimizer");
    x.add("adam", "Adam (reference code)");
    x.add("adamw", "AdamW (paper)");
    return x;
  }();
  return r;
}

Registry<std::string>& search_optimizers() {
  static Registry<std::string> r = [] {
    Registry<std::string> x("search optimizer");
    x.add("cem", "cross-entropy method (METHOD.md §6.3)");
    x.add("random_shooting", "uniform random search (METHOD.md §6.4)");
    return x;
  }();
  return r;
}

Registry<std::string>& other_routes() {
  static Registry<std::string> r = [] {
    Registry<std::string> x("dispatch route");
    x.add("base", "samples classified 'other' use the base weights (paper)");
    x.add("last_expert", "they use the expert loaded last (reference code quirk)");
    return x;
  }();
  return r;
}

Registry<std::string>& scorers() {
  static Registry<std::string> r = [] {
    Registry<std::string> x("scorer");
    for (const char* s : {"exact", "numeric", "regex", "multiple_choice", "code"}) x.add(s, s);
    return x;
  }();
  return r;
}

Registry<EvalMethod>& eval_methods() {
  static Registry<EvalMethod> r = [] {
    Registry<EvalMethod> x("method");
    x.add("base", {{}, "the base model"});
    x.add("svf", {{"experts"}, "the expert trained on the evaluated task"});
    x.add("t2_prompt", {{"experts"}, "prompt-based dispatch over the model's experts (§6.1)"});
    x.add("t2_cls", {{"experts", "classifier"}, "classifier-expert dispatch (§6.2)"});
    x.add("t2_fewshot", {{"fewshot"}, "the few-shot CEM mixture searched on the evaluated task (§6.3)"});
    // The baselines: the task's own adapter; on a task no adapter was trained on, the training-task
    // adapter that scores best on the task's valid split (the paper's unseen-task LoRA row).
    x.add("lora", {{"lora"}, "the LoRA adapter trained on the task (unseen task: best on its valid split)"});
    x.add("ia3", {{"ia3"}, "the IA3 adapter trained on the task (unseen task: best on its valid split)"});
    x.add("dora", {{"dora"}, "the DoRA adapter trained on the task (unseen task: best on its valid split)"});
    return x;
  }();
  return r;
}

Registry<TaskKind>& task_kinds() {
  static Registry<TaskKind> r = [] {
    Registry<TaskKind> x("task kind");
    register_task_kinds(x);
    return x;
  }();
  return r;
}

Registry<ExperimentKind>& experiment_kinds() {
  static Registry<ExperimentKind> r = [] {
    Registry<ExperimentKind> x("experiment kind");
    register_experiment_kinds(x);
    return x;
  }();
  return r;
}

const std::vector<std::pair<std::string, std::string>>& task_compat_switches() {
  static const std::vector<std::pair<std::string, std::string>> s = {
      {"gsm8k_regex", "GSM8K answers by the last \\d*\\.?\\d+ (drops commas and signs, METHOD.md §5.1)"},
      {"math_tolerance", "MATH by the reference's rules: x100 leniency, mixed numbers as products, ordered lists, "
                         "rel 1e-3 (§5.2)"},
      {"arc_guess", "ARC letters by the reference's cascade (no word boundaries) and its seeded guess (§5.3)"},
      {"arc_raw_keys", "numeric ARC answer keys are compared raw and never match (§5.3)"},
      {"cls_test_data", "the classifier's data comes from test splits as in the reference (§6.2)"},
      {"cls_case_sensitive", "classifier labels match case-sensitively (§6.1)"},
      {"mbpp_no_sanitize", "MBPP completions run without evalplus sanitisation"},
      {"original", "every switch of the task's kind"},
  };
  return s;
}

std::vector<ParamSpec> task_common_specs() {
  std::vector<ParamSpec> s(6);
  s[0].name = "max_new_tokens", s[0].type = ParamType::integer, s[0].check = rule_at_least(1);
  s[0].doc = "token budget of an answer (default: the kind's, METHOD.md §5)";
  s[1].name = "limit", s[1].type = ParamType::integer, s[1].nullable = true, s[1].check = rule_at_least(1);
  s[1].doc = "keep only the first N examples of each split";
  s[2].name = "system_prompt", s[2].type = ParamType::string, s[2].nullable = true;
  s[2].doc = "replaces the system turn of every example";
  s[3].name = "stop", s[3].type = ParamType::string_list, s[3].nullable = true;
  s[3].doc = "stop strings (default: the reference's four)";
  s[4].name = "shots_seed", s[4].type = ParamType::integer, s[4].nullable = true;
  s[4].doc = "seed of the few-shot shuffle (default: the kind's, METHOD.md §6.3)";
  s[5].name = "family", s[5].type = ParamType::choice, s[5].nullable = true;
  s[5].choices = {"math", "code", "reasoning", "classification", "other"};
  s[5].doc = "the dispatch label an expert of this task serves (default: the kind's)";
  return s;
}

const std::vector<std::string>& dispatch_labels() {
  static const std::vector<std::string> labels = {"code", "math", "reasoning"};
  return labels;
}

}  // namespace t2
