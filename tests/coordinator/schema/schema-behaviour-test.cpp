// Schema = behaviour. The test walks every key the campaign schema accepts (campaign_schema_keys(),
// built from the loader's own lists) and, for each, loads a campaign twice with two values of that
// key and shows that something observable differs, or that one value is refused:
//
//   plan      the expanded plan (job ids, dependencies, every job's parameters)
//   task      what a task hands the workers: its examples per role (ids, files, messages, prefill,
//             gold), token budget, stop strings, chat template, sandbox, and its verdicts on fixed
//             responses
//   rerun     the per-job parameter hashes (a frozen run refuses an edit of the key, or reruns the
//             jobs it touches): for model keys read when the worker loads the model
//   deadline  the deadlines per kind of work (coordinator/work-deadlines.h)
//   t2plan    `t2 plan --json` (the memory plan)
//   submit    `t2 submit --dry-run` (the sbatch scripts)
//   refused   the second value is refused when the campaign loads (exit 2 at `t2 run`)
//   reader    the value is read where rank 0 sets up the run (the runner's source names the key);
//             only for the settings of the run itself that no result can show
//
// A key without an entry in kProbes fails with its name and the line to add; an entry whose key
// left the schema fails too. Real data (../shared or T2_DATA_DIR), skipped without it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "coordinator/campaign-data.h"
#include "coordinator/job-params-hash.h"
#include "coordinator/work-deadlines.h"
#include "core/error.h"
#include "core/files.h"
#include "jobs/campaign.h"
#include "jobs/job-plan.h"
#include "jobs/sandbox.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

using nlohmann::json;

enum class Effect { plan, task, rerun, deadline, t2plan, submit, refused, reader };

struct Probe {
  Effect effect;
  std::vector<std::string> a, b;  // overrides giving the two values (b is the refused one for `refused`)
  std::string what;               // task: the task whose behaviour changes; reader: the source file
  std::string extra = "";         // YAML lines appended to the base campaign's experiments (both a and b)
};

Probe plan(std::vector<std::string> a, std::vector<std::string> b, std::string extra = "") {
  return {Effect::plan, std::move(a), std::move(b), "", std::move(extra)};
}
Probe task(const std::string& name, std::vector<std::string> a, std::vector<std::string> b) {
  return {Effect::task, std::move(a), std::move(b), name};
}
Probe rerun(std::vector<std::string> a, std::vector<std::string> b) { return {Effect::rerun, std::move(a), std::move(b), ""}; }
Probe deadline(const std::string& key) {
  return {Effect::deadline, {"timeouts." + key + "=100"}, {"timeouts." + key + "=200"}, ""};
}
Probe t2plan(std::vector<std::string> a, std::vector<std::string> b) { return {Effect::t2plan, std::move(a), std::move(b), ""}; }
Probe submit(std::vector<std::string> a, std::vector<std::string> b) { return {Effect::submit, std::move(a), std::move(b), ""}; }
Probe refused(std::vector<std::string> a, std::vector<std::string> b) { return {Effect::refused, std::move(a), std::move(b), ""}; }
// `needle`: the text in `source_file` (below the source root) that reads the key.
Probe reader(const std::string& source_file, const std::string& needle) { return {Effect::reader, {needle}, {}, source_file}; }

// Every campaign key and how its effect shows. To add a key: one line
//   {"experiments.<kind>.<key>", plan({"experiments.<an experiment of that kind>.<key>=A"}, {"...=B"})},
// (use task(...) for task keys, submit(...) for slurm keys; a new experiment kind passes its
// experiment as the third argument of plan(), e.g. plan({...}, {...}, "  - {name: p, kind: NEW, tasks: [gsm8k]}")).
// train_peft experiments: p (policy gradient, so the rollout and reward keys apply), and one adapter
// per method for evaluate's lora/ia3/dora keys (a and b name different experiments of that method).
const char* kPeft = "  - {name: p, kind: train_peft, tasks: [gsm8k], objective: policy_gradient}";
const char* kPeftEval =
    "  - {name: pl, kind: train_peft, method: lora, tasks: [gsm8k]}\n"
    "  - {name: pl2, kind: train_peft, method: lora, tasks: [arc_easy]}\n"
    "  - {name: pi, kind: train_peft, method: ia3, tasks: [gsm8k]}\n"
    "  - {name: pi2, kind: train_peft, method: ia3, tasks: [arc_easy]}\n"
    "  - {name: pd, kind: train_peft, method: dora, tasks: [gsm8k]}\n"
    "  - {name: pd2, kind: train_peft, method: dora, tasks: [arc_easy]}\n"
    "  - {name: evalp, kind: evaluate, models: [m], tasks: [gsm8k], methods: [lora, ia3, dora], lora: pl, ia3: pi, "
    "dora: pd}";
// an evaluation of SVF experts alone (expert_task, transfer_from and sigma_order apply to it)
const char* kEvalSvf = "  - {name: evsvf, kind: evaluate, models: [m], tasks: [mbpp], methods: [svf], experts: experts}";

const std::map<std::string, Probe>& probes() {
  static const std::map<std::string, Probe> p = {
      // top level
      {"name", plan({"name=one"}, {"name=two"})},
      {"output", submit({"output=@DIR@/run-a"}, {"output=@DIR@/run-b"})},
      {"seed", plan({"seed=1"}, {"seed=[1,2]"})},
      {"data_dir", task("gsm8k", {}, {"data_dir=@DIR@/data2"})},
      {"device", reader("coordinator/campaign-runner.cpp", "req.device = c.device")},
      // models
      {"models.path", t2plan({}, {"models.m.path=@DIR@/model-wide"})},
      {"models.dtype", t2plan({"models.m.dtype=fp32"}, {"models.m.dtype=bf16"})},
      {"models.tp", t2plan({"models.m.tp=1"}, {"models.m.tp=2"})},
      {"models.gpu_memory_gb", t2plan({"models.m.gpu_memory_gb=80"}, {"models.m.gpu_memory_gb=40"})},
      {"models.chat_template", rerun({"models.m.chat_template=llama3"}, {"models.m.chat_template=chatml"})},
      {"models.tokenizer", rerun({}, {"models.m.tokenizer=@DIR@/model-wide"})},
      {"models.revision", rerun({}, {"models.m.revision=v2"})},
      // tasks, every kind
      {"tasks.kind", task("arc_easy", {}, {"tasks.arc_easy.kind=arc_challenge"})},
      {"tasks.data", task("qa", {}, {"tasks.qa.data.test=@DIR@/qa-train.jsonl"})},
      {"tasks.split", task("qa", {}, {"tasks.qa.split.test=train"})},
      {"tasks.compat", task("gsm8k", {}, {"tasks.gsm8k.compat=[gsm8k_regex]"})},
      {"tasks.max_new_tokens", task("gsm8k", {}, {"tasks.gsm8k.max_new_tokens=100"})},
      {"tasks.limit", task("gsm8k", {}, {"tasks.gsm8k.limit=2"})},
      {"tasks.system_prompt", task("gsm8k", {}, {"tasks.gsm8k.system_prompt=Be brief."})},
      {"tasks.stop", task("gsm8k", {}, {"tasks.gsm8k.stop=[END]"})},
      {"tasks.shots_seed", plan({}, {"tasks.arc_challenge.shots_seed=5"})},
      {"tasks.family", plan({}, {"tasks.gsm8k.family=reasoning", "tasks.arc_easy.family=math"})},
      {"tasks.cls.sources", task("cls", {}, {"tasks.cls.sources={math: gsm8k}"})},
      {"tasks.cls.per_source", task("cls", {}, {"tasks.cls.per_source=3"})},
      {"tasks.user.scorer", task("qa", {}, {"tasks.qa.scorer=numeric", "tasks.qa.answer_field=num"})},
      {"tasks.user.prompt", task("qa", {}, {"tasks.qa.prompt='Q: {q}'"})},
      {"tasks.user.question_field", task("qa", {}, {"tasks.qa.question_field=a"})},
      {"tasks.user.answer_field", task("qa", {}, {"tasks.qa.answer_field=num"})},
      {"tasks.user.id_field", task("qa", {}, {"tasks.qa.id_field=q"})},
      {"tasks.user.prefill", task("qa", {}, {"tasks.qa.prefill=Sure"})},
      {"tasks.user.extract", task("qa", {}, {"tasks.qa.extract='answer: (\\w+)'"})},
      {"tasks.user.case_sensitive", task("qa", {}, {"tasks.qa.case_sensitive=false"})},
      {"tasks.user.tolerance", task("qa", {"tasks.qa.scorer=numeric", "tasks.qa.answer_field=num"},
                                   {"tasks.qa.scorer=numeric", "tasks.qa.answer_field=num", "tasks.qa.tolerance=0.1"})},
      {"tasks.user.choices_field",
       task("qa", {"tasks.qa.scorer=multiple_choice", "tasks.qa.answer_field=mc", "tasks.qa.choices_field=opts"},
            {"tasks.qa.scorer=multiple_choice", "tasks.qa.answer_field=mc", "tasks.qa.choices_field=opts2"})},
      {"tasks.user.chat_template", task("qa", {}, {"tasks.qa.chat_template=code_prompt"})},
      // experiments, every kind
      {"experiments.name", plan({}, {"experiments.eval.name=evaluation"})},
      {"experiments.kind", plan({}, {"experiments.dec.kind=classifier_expert"})},
      {"experiments.seeds", plan({}, {"experiments.experts2.seeds=[7,8]"})},
      {"experiments.depends_on", plan({}, {"experiments.eval.depends_on=[few2]"})},
      {"experiments.exclude", plan({}, {"experiments.eval.exclude=[{method: svf}]"})},
      {"experiments.decompose.models", plan({}, {"experiments.dec.models=[m]"})},
      {"experiments.decompose.modules", plan({}, {"experiments.dec.modules=all"})},
      {"experiments.decompose.dtype", plan({}, {"experiments.dec.dtype=fp64"})},
      {"experiments.train_expert.models", plan({}, {"experiments.experts2.models=[m]"})},
      {"experiments.train_expert.tasks", plan({}, {"experiments.experts2.tasks=[gsm8k, arc_easy, mbpp, arc_challenge]"})},
      {"experiments.classifier_expert.models", plan({}, {"experiments.clsx2.models=[m]"})},
      {"experiments.classifier_expert.task", plan({}, {"experiments.clsx.task=cls2"})},
      {"experiments.fewshot_search.models", plan({}, {"experiments.few2.models=[m, m2]"})},
      {"experiments.fewshot_search.tasks", plan({}, {"experiments.few.tasks=[arc_challenge, math]"})},
      {"experiments.fewshot_search.experts", plan({}, {"experiments.few.experts=experts2"})},
      {"experiments.fewshot_search.optimizer", plan({}, {"experiments.few.optimizer=random_shooting"})},
      {"experiments.fewshot_search.population", plan({}, {"experiments.few.population=8"})},
      {"experiments.fewshot_search.elites", plan({}, {"experiments.few.elites=2"})},
      {"experiments.fewshot_search.generations", plan({}, {"experiments.few.generations=3"})},
      {"experiments.fewshot_search.init_mean", plan({}, {"experiments.few.init_mean=0.5"})},
      {"experiments.fewshot_search.init_std", plan({}, {"experiments.few.init_std=0.1"})},
      {"experiments.fewshot_search.alpha_min", plan({}, {"experiments.few.alpha_min=-1"})},
      {"experiments.fewshot_search.alpha_max", plan({}, {"experiments.few.alpha_max=2"})},
      {"experiments.fewshot_search.per_matrix", plan({}, {"experiments.few.per_matrix=false"})},
      {"experiments.fewshot_search.normalize", refused({"experiments.few.normalize=false"}, {"experiments.few.normalize=true"})},
      {"experiments.fewshot_search.mixing", plan({}, {"experiments.few.mixing=raw_z"})},
      {"experiments.fewshot_search.shots", plan({}, {"experiments.few.shots=5"})},
      {"experiments.fewshot_search.shots_seed", plan({}, {"experiments.few.shots_seed=3"})},
      {"experiments.fewshot_search.loglik_tiebreak", plan({}, {"experiments.few.loglik_tiebreak=false"})},
      {"experiments.fewshot_search.re_eval_best", plan({}, {"experiments.few.re_eval_best=false"})},
      {"experiments.fewshot_search.select", refused({"experiments.few.select=final"}, {"experiments.few.select=best_heldout"})},
      {"experiments.evaluate.models", plan({}, {"experiments.eval.models=[m]"})},
      {"experiments.evaluate.tasks", plan({}, {"experiments.eval.tasks=[gsm8k]"})},
      {"experiments.evaluate.methods", plan({}, {"experiments.eval.methods=[base]"})},
      {"experiments.evaluate.experts", plan({}, {"experiments.eval.experts=experts2"})},
      {"experiments.evaluate.classifier", plan({}, {"experiments.eval.classifier=clsx2"})},
      {"experiments.evaluate.fewshot", plan({}, {"experiments.evalfew.fewshot=few2"})},
      {"experiments.evaluate.dispatch", plan({}, {"experiments.eval.dispatch={other: last_expert}"})},
      {"experiments.evaluate.batch_size", plan({}, {"experiments.eval.batch_size=8"})},
      {"experiments.evaluate.limit", plan({}, {"experiments.eval.limit=5"})},
      {"experiments.evaluate.temperature", plan({}, {"experiments.eval.temperature=0.7"})},
      {"experiments.decompose.layers", plan({}, {"experiments.dec.layers=0-3"})},
      {"experiments.train_expert.objective", plan({}, {"experiments.experts.objective=next_token"})},
      {"experiments.train_expert.layers", plan({}, {"experiments.experts.layers=0-3"})},
      {"experiments.classifier_expert.layers", plan({}, {"experiments.clsx.layers=0-3"})},
      {"experiments.train_peft.models", plan({}, {"experiments.p.models=[m]"}, kPeft)},
      {"experiments.train_peft.tasks", plan({}, {"experiments.p.tasks=[gsm8k, arc_easy]"}, kPeft)},
      {"experiments.train_peft.method", plan({}, {"experiments.p.method=ia3"}, kPeft)},
      {"experiments.train_peft.objective", plan({}, {"experiments.p.objective=next_token"}, kPeft)},
      {"experiments.train_peft.r", plan({}, {"experiments.p.r=8"}, kPeft)},
      {"experiments.train_peft.alpha", plan({}, {"experiments.p.alpha=16"}, kPeft)},
      {"experiments.train_peft.dropout", plan({}, {"experiments.p.dropout=0.1"}, kPeft)},
      {"experiments.train_peft.modules", plan({}, {"experiments.p.modules=all"}, kPeft)},
      {"experiments.fewshot_search.transfer_from", plan({}, {"experiments.few2.transfer_from=m2"})},
      {"experiments.fewshot_search.sigma_order",
       plan({"experiments.few2.transfer_from=m2"}, {"experiments.few2.transfer_from=m2", "experiments.few2.sigma_order=shuffled"})},
      {"experiments.evaluate.lora", plan({}, {"experiments.evalp.lora=pl2"}, kPeftEval)},
      {"experiments.evaluate.ia3", plan({}, {"experiments.evalp.ia3=pi2"}, kPeftEval)},
      {"experiments.evaluate.dora", plan({}, {"experiments.evalp.dora=pd2"}, kPeftEval)},
      {"experiments.evaluate.label", plan({}, {"experiments.evalfew.label=mine"})},
      {"experiments.evaluate.expert_task", plan({}, {"experiments.evsvf.expert_task=gsm8k"}, kEvalSvf)},
      {"experiments.evaluate.transfer_from", plan({}, {"experiments.evsvf.transfer_from=m2"}, kEvalSvf)},
      {"experiments.evaluate.sigma_order",
       plan({"experiments.evsvf.transfer_from=m2"}, {"experiments.evsvf.transfer_from=m2", "experiments.evsvf.sigma_order=shuffled"},
            kEvalSvf)},
      // slurm
      {"slurm.partition", submit({}, {"slurm.partition=gpu"})},
      {"slurm.account", submit({}, {"slurm.account=lab"})},
      {"slurm.qos", submit({}, {"slurm.qos=high"})},
      {"slurm.time", submit({}, {"slurm.time=02:00:00"})},
      {"slurm.nodes", submit({}, {"slurm.nodes=2"})},
      {"slurm.gpus_per_node", submit({}, {"slurm.gpus_per_node=4"})},
      {"slurm.cpus_per_task", submit({}, {"slurm.cpus_per_task=4"})},
      {"slurm.mem", submit({}, {"slurm.mem=500G"})},
      {"slurm.signal_seconds", submit({}, {"slurm.signal_seconds=60"})},
      {"slurm.requeue", submit({}, {"slurm.requeue=false"})},
      {"slurm.extra", submit({}, {"slurm.extra=['#SBATCH --constraint=a100']"})},
      // timeouts: the deadlines of the kinds of work; the rest are read by the runner on rank 0
      {"timeouts.control_message", deadline("control_message")},
      {"timeouts.model_load", deadline("model_load")},
      {"timeouts.decompose", deadline("decompose")},
      {"timeouts.generate", deadline("generate")},
      {"timeouts.gradient", deadline("gradient")},
      {"timeouts.evaluation_batch", deadline("evaluation_batch")},
      {"timeouts.cem_chunk", deadline("cem_chunk")},
      {"timeouts.collective", reader("coordinator/campaign-runner.cpp", "timeout_of(c, \"collective\"")},
      {"timeouts.file_lock", reader("coordinator/campaign-runner.cpp", "timeout_of(c, \"file_lock\"")},
      {"timeouts.slurm_command", reader("coordinator/campaign-runner.cpp", "timeout_of(c, \"slurm_command\"")},
      // sandbox
      {"sandbox.isolation", task("qa", {"sandbox.isolation=namespaces"}, {"sandbox.isolation=rlimits"})},
  };
  return p;
}

// The REINFORCE hyperparameters of train_expert and classifier_expert: one value each that is not the
// default, shown in the plan of both kinds.
const std::map<std::string, std::string>& reinforce_values() {
  static const std::map<std::string, std::string> v = {
      {"steps", "3"},           {"batch_size", "8"},        {"lr", "0.01"},          {"optimizer", "adamw"},
      {"weight_decay", "0.1"},  {"schedule", "cosine"},     {"clip", "null"},        {"kl_coef", "0.1"},
      {"kl_direction", "policy_to_ref"}, {"rollout", "sample"}, {"temperature", "0.7"}, {"top_p", "0.9"},
      {"samples_per_prompt", "2"}, {"baseline", "batch_mean"}, {"valid_every", "2"}, {"init_mean", "0.2"},
      {"init_std", "0.02"},     {"max_mult", "2"},          {"modules", "attn"},     {"reward_correct", "2"},
      {"reward_wrong", "0"},    {"reward_unparsed", "-2"},  {"select", "last"},      {"z_dtype", "bf16"},
      {"micro_batch", "2"},     {"recompute", "none"},
  };
  return v;
}

std::optional<Probe> probe_of(const std::string& key) {
  auto it = probes().find(key);
  if (it != probes().end()) return it->second;
  for (const char* kind : {"train_expert", "classifier_expert", "train_peft"}) {
    const std::string prefix = std::string("experiments.") + kind + ".";
    if (key.rfind(prefix, 0) != 0) continue;
    auto v = reinforce_values().find(key.substr(prefix.size()));
    if (v == reinforce_values().end()) return std::nullopt;
    const std::string k = kind;
    const std::string x = k == "train_expert" ? "experts" : k == "classifier_expert" ? "clsx" : "p";
    std::vector<std::string> b = {"experiments." + x + "." + v->first + "=" + v->second};
    // several samples of one prompt need sampled rollouts (greedy ones are identical: refused)
    if (v->first == "samples_per_prompt") b.push_back("experiments." + x + ".rollout=sample");
    return k == "train_peft" ? plan({}, b, kPeft) : plan({}, b);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

const char* kBase = R"(name: schema
output: @DIR@/run
seed: 7
data_dir: @DATA@
models:
  m: {path: "@DIR@/model", dtype: fp32, tp: 1, chat_template: llama3, gpu_memory_gb: 80}
  m2: {path: "@DIR@/model", dtype: fp32, tp: 1, chat_template: llama3, gpu_memory_gb: 80}
tasks:
  gsm8k: {limit: 6}
  math: {limit: 6}
  mbpp: {}
  arc_easy: {limit: 6}
  arc_challenge: {limit: 20}
  cls: {kind: cls, per_source: 6}
  cls2: {kind: cls, per_source: 4}
  qa:
    kind: user
    data: {train: "@DIR@/qa-train.jsonl", test: "@DIR@/qa-test.jsonl"}
    split: {train: "train|even", valid: "train|odd", test: test}
    scorer: exact
    question_field: q
    answer_field: a
    id_field: id
slurm: {gpus_per_node: 8}
timeouts: {}
sandbox: {isolation: rlimits}
# experts2, clsx2 and few2 are the alternatives the reference keys point to (swept, so that their
# jobs are not those of experts, clsx and few)
experiments:
  - {name: dec, kind: decompose}
  - {name: experts, kind: train_expert, tasks: [gsm8k, arc_easy, mbpp]}
  - {name: experts2, kind: train_expert, tasks: [gsm8k, arc_easy, mbpp], steps: [3, 4]}
  - {name: clsx, kind: classifier_expert, task: cls}
  - {name: clsx2, kind: classifier_expert, task: cls2, steps: [3, 4]}
  - {name: few, kind: fewshot_search, tasks: [arc_challenge], experts: experts}
  - {name: few2, kind: fewshot_search, models: [m], tasks: [arc_challenge], experts: experts2}
  - {name: eval, kind: evaluate, tasks: [gsm8k, arc_easy], methods: [base, svf, t2_prompt, t2_cls],
     experts: experts, classifier: clsx}
  - {name: evalfew, kind: evaluate, models: [m], tasks: [arc_challenge], methods: [t2_fewshot], fewshot: few}
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

class SchemaBehaviour : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = test::data_dir();
    if (!d) GTEST_SKIP() << "T2_DATA_DIR / ../shared not found";
    data_ = *d;
    dir_ = test::make_temp_dir("schema");
    std::filesystem::create_directories(dir_ + "/data2");
    std::filesystem::create_directory_symlink(data_ + "/data", dir_ + "/data2/data");
    auto model = [&](const std::string& name, int hidden) {
      std::filesystem::create_directories(dir_ + "/" + name);
      std::ofstream(dir_ + "/" + name + "/config.json")
          << R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": )"
          << hidden << R"(, "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 8,
            "num_key_value_heads": 8, "vocab_size": 32000, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
            "max_position_embeddings": 4096, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2})";
    };
    model("model", 4096);
    model("model-wide", 5120);
    const std::string rec =
        R"("a": "four", "num": 4, "mc": "4", "opts": ["3", "4"], "opts2": ["4", "3"])";
    {
      std::ofstream f(dir_ + "/qa-test.jsonl");
      f << R"({"id": "t0", "q": "2+2", )" << rec << "}\n" << R"({"id": "t1", "q": "1+3", )" << rec << "}\n";
    }
    {
      std::ofstream f(dir_ + "/qa-train.jsonl");
      for (int i = 0; i < 6; ++i) f << R"({"id": "r)" << i << R"(", "q": ")" << i << "+4\", " << rec << "}\n";
    }
    base_ = subst(kBase);
    std::ofstream(dir_ + "/campaign.yaml") << base_;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string subst(const std::string& s) const { return replace_all(replace_all(s, "@DIR@", dir_), "@DATA@", data_); }
  std::vector<std::string> subst(const std::vector<std::string>& v) const {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(subst(s));
    return out;
  }

  Campaign load(const std::vector<std::string>& overrides, const std::string& extra) const {
    return parse_campaign(base_ + subst(extra) + (extra.empty() ? "" : "\n"), "schema.yaml", subst(overrides));
  }

  // What `effect` shows of a campaign.
  std::string observe(const Probe& p, const std::vector<std::string>& overrides) const {
    switch (p.effect) {
      case Effect::plan:
        return expand_plan(load(overrides, p.extra)).to_json().dump();
      case Effect::rerun: {
        Campaign c = load(overrides, p.extra);
        json j;
        for (const auto& [id, jp] : job_params_of(c, expand_plan(c))) j[id] = jp.to_json();
        return j.dump();
      }
      case Effect::deadline: {
        WorkDeadlines d = WorkDeadlines::from_campaign(load(overrides, p.extra));
        return json{d.load.count(), d.decompose.count(), d.generate.count(), d.gradient.count(),
                    d.evaluation_batch.count(), d.cem_chunk.count()}
            .dump();
      }
      case Effect::task:
        return task_summary(load(overrides, p.extra), p.what);
      case Effect::t2plan: {
        std::vector<std::string> args = {"plan", dir_ + "/campaign.yaml"};
        for (const auto& o : subst(overrides)) args.push_back(o);
        args.push_back("--json");
        auto r = test::run_t2(args);
        // 1: printed, but something does not fit (a smaller gpu_memory_gb does that on purpose)
        EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
        return r.out;
      }
      case Effect::submit: {
        std::vector<std::string> args = {"submit", dir_ + "/campaign.yaml"};
        for (const auto& o : subst(overrides)) args.push_back(o);
        args.push_back("--dry-run");
        auto r = test::run_t2(args);
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        return r.out;
      }
      default:
        return "";
    }
  }

  std::string task_summary(const Campaign& c, const std::string& name) const {
    CampaignTask t(c, *c.find_task(name));
    json j;
    j["max_new_tokens"] = t.max_new_tokens();
    j["stop"] = t.stop_strings();
    j["chat_template"] = t.task().chat_template();
    j["sandbox"] = tasks::to_string(t.task().options().sandbox.isolation);
    for (const char* role : {"train", "valid", "test"}) {
      if (!t.has_role(role)) continue;
      const auto& exs = t.examples(role);
      j[role]["n"] = exs.size();
      for (size_t i = 0; i < std::min<size_t>(exs.size(), 3); ++i) {
        json e = {{"id", exs[i].id}, {"source", exs[i].source}, {"prefill", exs[i].assistant_prefill},
                  {"gold", exs[i].gold}};
        for (const auto& m : exs[i].messages) e["messages"].push_back({m.role, m.content});
        j[role]["examples"].push_back(e);
      }
    }
    if (!t.task().runs_code() && t.task().kind() != "math" && t.has_role("test") && !t.examples("test").empty()) {
      for (const char* r : {"The answer is 1,234.\n\n(check: 80)", "the answer is (B)", "FOUR", "four", "4.1",
                            "so answer: 4", "answer: four"}) {
        auto v = t.task().score(t.examples("test")[0], r);
        j["verdicts"].push_back({v.correct, v.parsed, v.extracted});
      }
    }
    return j.dump();
  }

  std::string dir_, data_, base_;
};

TEST_F(SchemaBehaviour, EveryKeyHasAnEntry) {
  std::set<std::string> keys;
  for (const auto& k : campaign_schema_keys()) {
    keys.insert(k);
    EXPECT_TRUE(probe_of(k).has_value())
        << "campaign key '" << k << "' is accepted by the schema but has no entry in kProbes "
        << "(tests/coordinator/schema/schema-behaviour-test.cpp): add one line such as\n  {\"" << k
        << "\", plan({}, {\"experiments.<name>." << k.substr(k.rfind('.') + 1)
        << "=<a value that is not the default>\"})},\nwith the effect that shows it (plan, task, submit, ...), "
        << "or make the key refused if it does nothing";
  }
  for (const auto& [k, _] : probes())
    EXPECT_TRUE(keys.count(k)) << "kProbes has an entry for '" << k << "', which the schema no longer accepts";
  for (const auto& [k, _] : reinforce_values())
    EXPECT_TRUE(keys.count("experiments.train_expert." + k)) << "reinforce_values() names '" << k
                                                             << "', which train_expert no longer accepts";
}

TEST_F(SchemaBehaviour, EveryKeyChangesWhatHappensOrIsRefused) {
  size_t shown = 0;
  for (const auto& key : campaign_schema_keys()) {
    auto p = probe_of(key);
    if (!p) continue;  // EveryKeyHasAnEntry names it
    SCOPED_TRACE(key);
    try {
      if (p->effect == Effect::refused) {
        EXPECT_NO_THROW(load(p->a, p->extra)) << key << ": the accepted value is refused";
        try {
          load(p->b, p->extra);
          ADD_FAILURE() << key << ": " << p->b[0] << " is accepted";
        } catch (const UsageError& e) {
          const std::string leaf = key.substr(key.rfind('.') + 1);
          EXPECT_NE(std::string(e.what()).find(leaf), std::string::npos) << e.what();
        }
        ++shown;
        continue;
      }
      if (p->effect == Effect::reader) {
        // the settings of the run itself: the runner reads the key (and the campaign keeps the value)
        const std::string src = read_file(test::source_dir() + "/" + p->what);
        EXPECT_NE(src.find(p->a.at(0)), std::string::npos) << p->what << " never reads " << key << " (" << p->a[0] << ")";
        ++shown;
        continue;
      }
      const std::string a = observe(*p, p->a), b = observe(*p, p->b);
      EXPECT_FALSE(a.empty()) << key;
      EXPECT_NE(a, b) << key << ": " << (p->a.empty() ? "the default" : p->a.back()) << " and " << p->b.back()
                      << " give the same observable behaviour: the key does nothing";
      ++shown;
    } catch (const std::exception& e) {
      ADD_FAILURE() << key << ": " << e.what();
    }
  }
  EXPECT_GT(shown, 100u);
}

// The probes can fail: two values of one key that are both the default show no difference.
TEST_F(SchemaBehaviour, AKeyWithoutEffectIsCaught) {
  Probe p = plan({"experiments.experts.lr=0.002"}, {});
  EXPECT_EQ(observe(p, p.a), observe(p, p.b));
  Probe t = task("gsm8k", {"tasks.gsm8k.limit=6"}, {});
  EXPECT_EQ(observe(t, t.a), observe(t, t.b));
}

}  // namespace
}  // namespace t2
