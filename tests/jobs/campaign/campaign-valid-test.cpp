// Valid campaigns: defaults, sweeps, overrides, ${VAR} expansion, the job DAG of the paper matrix,
// cycle detection and the registries.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "campaign-fixture.h"
#include "core/error.h"
#include "core/files.h"
#include "jobs/campaign.h"
#include "jobs/job-plan.h"
#include "jobs/registry-builtin.h"
#include "jobs/sweep.h"
#include "tests/support/test-support.h"

namespace {

using t2::test::CampaignDir;

const char* kSweep = R"(name: sweep
data_dir: @DATA@
seed: [1, 2, 3]
models:
  m1: {path: /models/m1}
  m2: {path: /models/m2, tp: 2}
tasks:
  gsm8k: {}
  arc_easy: {}
  math: {}
experiments:
  - name: experts
    kind: train_expert
    tasks: [gsm8k, arc_easy]
    lr: [1.0e-3, 2.0e-3]
  - name: eval
    kind: evaluate
    tasks: [gsm8k, math]
    methods: [base, svf, t2_prompt]
    exclude: [{task: math, method: svf}]
)";

std::map<std::string, const t2::Job*> by_id(const t2::Plan& p) {
  std::map<std::string, const t2::Job*> m;
  for (const auto& j : p.jobs) m[j.id] = &j;
  return m;
}

t2::CampaignLoadOptions env_opts(const std::map<std::string, std::string>& env) {
  t2::CampaignLoadOptions o;
  o.env = [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

TEST(Campaign, DefaultsFollowMethodMd) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(kSweep));
  const auto* e = c.find_experiment("experts");
  ASSERT_NE(e, nullptr);
  // Every train_expert default is the registry's (METHOD.md §4.1 values live there).
  for (const auto& s : t2::experiment_kinds().at("train_expert").params)
    if (s.name != "lr") {
      EXPECT_EQ(e->params.at(s.name), s.default_value) << s.name;
    }
  EXPECT_EQ(e->params.at("steps"), 200);
  EXPECT_EQ(e->params.at("batch_size"), 256);
  EXPECT_EQ(e->swept, std::vector<std::string>{"lr"});
  const auto* math = c.find_task("math");
  ASSERT_NE(math, nullptr);
  EXPECT_EQ(math->max_new_tokens, 1024);
  EXPECT_EQ(math->data.at("test"), dir.data() + "/data/math/math500_test.jsonl");
  EXPECT_EQ(c.find_task("gsm8k")->split.at("train"), "train|even");
  EXPECT_EQ(c.find_task("gsm8k")->split.at("valid"), "train|odd");
  EXPECT_EQ(c.find_model("m2")->tp, 2);
  EXPECT_EQ(c.find_model("m1")->dtype, "bf16");
  EXPECT_EQ(c.output, "runs/sweep");
  EXPECT_EQ(c.slurm.time, "24:00:00");
}

// sandbox.isolation: namespaces by default, rlimits only when asked for (file or override), nothing else.
TEST(Campaign, SandboxIsolationDefaultsToNamespacesAndOptsOutExplicitly) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(kSweep));
  EXPECT_EQ(c.sandbox_isolation, "namespaces");
  EXPECT_EQ(c.resolved["sandbox"]["isolation"], "namespaces");
  auto o = t2::load_campaign(dir.write(kSweep), {"sandbox.isolation=rlimits"});
  EXPECT_EQ(o.sandbox_isolation, "rlimits");
  EXPECT_EQ(o.resolved["sandbox"]["isolation"], "rlimits");
  auto f = t2::load_campaign(dir.write(std::string(kSweep) + "sandbox:\n  isolation: rlimits\n", "opt-out.yaml"));
  EXPECT_EQ(f.sandbox_isolation, "rlimits");
  try {
    t2::load_campaign(dir.write(std::string(kSweep) + "sandbox:\n  isolation: none\n", "bad.yaml"));
    ADD_FAILURE() << "isolation: none was accepted";
  } catch (const t2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("sandbox.isolation"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t2::load_campaign(dir.write(std::string(kSweep) + "sandbox:\n  level: rlimits\n", "bad2.yaml")),
               t2::UsageError);
}

TEST(Campaign, SweepExpandsToTheCartesianProduct) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(kSweep));
  auto plan = t2::expand_plan(c);
  auto counts = plan.count_by_kind();
  const auto* e = c.find_experiment("experts");
  const auto* ev = c.find_experiment("eval");
  const size_t lrs = e->params.at("lr").size();
  EXPECT_EQ(counts["train_expert"], e->models.size() * e->tasks.size() * e->seeds.size() * lrs);
  EXPECT_EQ(counts["decompose"], c.models.size());
  // eval: base on 2 tasks, svf on gsm8k only (math excluded), t2_prompt on 2 tasks; the last two
  // once per expert variant (lr).
  const size_t cells = ev->models.size() * ev->seeds.size();
  EXPECT_EQ(counts["evaluate"], cells * (2 + 1 * lrs + 2 * lrs));
  auto ids = by_id(plan);
  EXPECT_TRUE(ids.count("train_expert/m2/arc_easy/seed3/lr=0.001"));
  EXPECT_TRUE(ids.count("evaluate/m1/math/t2_prompt/seed2/experts.lr=0.002"));
  EXPECT_FALSE(ids.count("evaluate/m1/math/svf/seed2/experts.lr=0.002"));
  const auto* j = ids.at("train_expert/m2/arc_easy/seed3/lr=0.001");
  EXPECT_DOUBLE_EQ(j->params.at("lr").get<double>(), 1e-3);
  EXPECT_EQ(j->deps, std::vector<std::string>{"decompose/m2"});
}

TEST(Campaign, CartesianOrderIsFirstAxisSlowest) {
  auto pts = t2::cartesian({{"a", {1, 2}}, {"b", {"x", "y", "z"}}});
  ASSERT_EQ(pts.size(), 6u);
  EXPECT_EQ(pts[0], (nlohmann::json{{"a", 1}, {"b", "x"}}));
  EXPECT_EQ(pts[3], (nlohmann::json{{"a", 2}, {"b", "x"}}));
  EXPECT_TRUE(t2::cartesian({{"a", {}}}).empty());
  EXPECT_EQ(t2::sweep_label(pts[5], {"a", "b"}), "a=2,b=z");
}

TEST(Campaign, OverridesApplyBeforeValidation) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(kSweep), {"seed=7", "experiments.experts.lr=5e-4", "experiments.1.methods=[base]", "~experiments.eval.exclude",
                                                 "models.m1.path=/elsewhere", "slurm.partition=big",
                                                 "experiments.2.kind=decompose", "experiments.2.dtype=fp64",
                                                 "~models.m2"});
  EXPECT_EQ(c.seeds, std::vector<int64_t>{7});
  EXPECT_EQ(c.find_model("m1")->path, "/elsewhere");
  EXPECT_EQ(c.find_model("m2"), nullptr);
  EXPECT_EQ(c.slurm.partition.value_or(""), "big");
  const auto* e = c.find_experiment("experts");
  EXPECT_DOUBLE_EQ(e->params.at("lr").get<double>(), 5e-4);
  EXPECT_TRUE(e->swept.empty());
  EXPECT_EQ(c.find_experiment("eval")->methods, std::vector<std::string>{"base"});
  auto plan = t2::expand_plan(c);
  auto ids = by_id(plan);
  ASSERT_TRUE(ids.count("decompose/m1"));
  EXPECT_EQ(ids.at("decompose/m1")->params.at("dtype"), "fp64");
  EXPECT_EQ(ids.at("decompose/m1")->params.at("modules"), "mlp");  // auto: what the experts adapt
  EXPECT_EQ(plan.count_by_kind()["train_expert"], 2u);
}

TEST(Campaign, OverrideTurnsAScalarIntoASweep) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(kSweep), {"experiments.experts.kl_coef=[0.0, 0.1, 0.2, 0.3]"});
  auto plan = t2::expand_plan(c);
  const auto* e = c.find_experiment("experts");
  EXPECT_EQ(e->swept, (std::vector<std::string>{"lr", "kl_coef"}));
  EXPECT_EQ(plan.count_by_kind()["train_expert"], 2u * 2u * 3u * 2u * 4u);
  EXPECT_TRUE(by_id(plan).count("train_expert/m1/gsm8k/seed1/lr=0.001,kl_coef=0.1"));
}

TEST(Campaign, EnvironmentExpansion) {
  CampaignDir dir;
  const std::string yaml = R"(name: env
data_dir: ${ROOT}
output: ${OUT:-runs/default}/$${literal}
models:
  m1: {path: "${MODELS:-/m}/${NAME:-x}-${data_dir}"}
tasks:
  gsm8k: {}
experiments:
  - kind: evaluate
    tasks: [gsm8k]
    batch_size: ${BATCH:-16}
)";
  auto c = t2::load_campaign(dir.write(yaml), {}, env_opts({{"ROOT", dir.data()}, {"NAME", "llama"}}));
  EXPECT_EQ(c.data_dir.value_or(""), dir.data());
  EXPECT_EQ(c.output, "runs/default/${literal}");
  EXPECT_EQ(c.find_model("m1")->path, "/m/llama-" + dir.data());
  // An expanded plain scalar keeps its type.
  EXPECT_EQ(c.find_experiment("evaluate")->params.at("batch_size"), 16);
  EXPECT_EQ(c.find_task("gsm8k")->data.at("train"), dir.data() + "/data/gsm8k/train.jsonl");
}

class PaperMatrix : public ::testing::Test {
 protected:
  CampaignDir dir;
  t2::Campaign load(const std::string& example) {
    return t2::load_campaign(t2::test::source_dir() + "/examples/" + example, {},
                             env_opts({{"T2_DATA_DIR", dir.data()}}));
  }
};

// The paper's structure (METHOD.md §4-§6, §8) written out independently of the example file.
const std::vector<std::string> kTrainTasks = {"gsm8k", "mbpp", "arc_easy"};
const std::vector<std::string> kUnseenTasks = {"math", "humaneval", "arc_challenge"};

// expert_suffix / eval_suffix: what a non-default expert setting adds to the ids (the 70B's experts
// adapt half of the layers: ".../seed42/layers=0-39", evaluations ".../seed42/experts_70b.layers=0-39").
void check_model_dag(const t2::Plan& plan, const std::string& model, bool full_t2, const std::string& expert_suffix = "",
                     const std::string& eval_suffix = "") {
  auto ids = by_id(plan);
  const std::string dec = "decompose/" + model, s = "/seed42";
  ASSERT_TRUE(ids.count(dec)) << model;
  std::vector<std::string> experts;
  for (const auto& t : kTrainTasks) {
    const std::string id = "train_expert/" + model + "/" + t + s + expert_suffix;
    ASSERT_TRUE(ids.count(id)) << id;
    EXPECT_EQ(ids[id]->deps, std::vector<std::string>{dec});
    experts.push_back(id);
    EXPECT_TRUE(ids.at("evaluate/" + model + "/" + t + "/base" + s)->deps.empty());
    EXPECT_EQ(ids.at("evaluate/" + model + "/" + t + "/svf" + s + eval_suffix)->deps, (std::vector<std::string>{dec, id}));
  }
  const std::string cls = "classifier_expert/" + model + s;
  EXPECT_EQ(ids.count(cls), full_t2 ? 1u : 0u);
  if (full_t2) {
    EXPECT_EQ(ids.at(cls)->deps, std::vector<std::string>{dec});
  }
  for (const auto& t : kUnseenTasks) {
    EXPECT_TRUE(ids.at("evaluate/" + model + "/" + t + "/base" + s)->deps.empty());
    auto prompt = ids.at("evaluate/" + model + "/" + t + "/t2_prompt" + s + eval_suffix);
    std::vector<std::string> want = {dec};
    want.insert(want.end(), experts.begin(), experts.end());
    std::vector<std::string> got = prompt->deps;
    std::sort(want.begin(), want.end()), std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << prompt->id;
    // Dispatch: code -> MBPP expert, math -> GSM8K expert, reasoning -> ARC-Easy expert (§6.1).
    EXPECT_EQ(prompt->params.at("experts").at("math"), "train_expert/" + model + "/gsm8k" + s + expert_suffix);
    EXPECT_EQ(prompt->params.at("experts").at("code"), "train_expert/" + model + "/mbpp" + s + expert_suffix);
    EXPECT_EQ(prompt->params.at("experts").at("reasoning"), "train_expert/" + model + "/arc_easy" + s + expert_suffix);
    const std::string fs = "fewshot_search/" + model + "/" + t + s;
    const std::string cl = "evaluate/" + model + "/" + t + "/t2_cls" + s, few = "evaluate/" + model + "/" + t + "/t2_fewshot" + s;
    if (!full_t2) {
      EXPECT_FALSE(ids.count(fs) || ids.count(cl) || ids.count(few)) << model << " " << t;
      continue;
    }
    auto cdeps = ids.at(cl)->deps;
    EXPECT_NE(std::find(cdeps.begin(), cdeps.end(), cls), cdeps.end());
    EXPECT_EQ(cdeps.size(), 1u + experts.size() + 1u);
    EXPECT_EQ(ids.at(few)->deps, (std::vector<std::string>{dec, fs}));
    auto fdeps = ids.at(fs)->deps;
    EXPECT_EQ(fdeps.size(), 1u + experts.size());
    EXPECT_EQ(ids.at(fs)->params.at("population"), 32);
    EXPECT_EQ(ids.at(fs)->params.at("elites"), 6);
  }
}

TEST_F(PaperMatrix, Llama3Has26JobsWithThePaperDependencies) {
  auto c = load("paper-llama3-8b.yaml");
  auto plan = t2::expand_plan(c);
  check_model_dag(plan, "llama3-8b", true);
  // decompose + 3 experts + cls + 3 searches + 3x2 Table 1 cells + 3x4 Table 2 cells.
  const size_t want = 1 + kTrainTasks.size() + 1 + kUnseenTasks.size() + kTrainTasks.size() * 2 + kUnseenTasks.size() * 4;
  EXPECT_EQ(plan.jobs.size(), want);
  // Few-shot shot seeds come from the tasks (METHOD.md §6.3: MATH 27, ARC-Challenge 38, HumanEval 16).
  auto ids = by_id(plan);
  EXPECT_EQ(ids.at("fewshot_search/llama3-8b/math/seed42")->params.at("shots_seed"), 27);
  EXPECT_EQ(ids.at("fewshot_search/llama3-8b/arc_challenge/seed42")->params.at("shots_seed"), 38);
  EXPECT_EQ(ids.at("fewshot_search/llama3-8b/humaneval/seed42")->params.at("shots_seed"), 16);
  EXPECT_EQ(ids.at("classifier_expert/llama3-8b/seed42")->params.at("sources").at("reasoning"), "arc_challenge");
}

TEST_F(PaperMatrix, AllModelsWith70BPromptOnly) {
  auto c = load("paper-all.yaml");
  auto plan = t2::expand_plan(c);
  EXPECT_EQ(c.find_model("llama3-70b")->tp, 8);
  check_model_dag(plan, "llama3-8b", true);
  check_model_dag(plan, "mistral-7b", true);
  check_model_dag(plan, "llama3-70b", false, "/layers=0-39", "/experts_70b.layers=0-39");
  // Beyond the SVF / T² part checked above, the baselines, ablations and transfer
  // (tests/coordinator/plan/paper_all_matrix.py checks every table's rows): train_expert 3 x 3 + 3
  // Table 4 SVF rows; train_peft LoRA 3 x 3 (the 70B's under TP 8), IA3 3, DoRA 3, LoRA policy
  // gradient, LoRA MLP+attention; fewshot 2 x 3 + 3 cross-model; evaluate Table 1 27, Table 2 26 + 6,
  // Table 7 8, Table 4 14, Table 9 6, Table 5 9.
  const std::map<std::string, size_t> kinds = {{"decompose", 3},      {"train_expert", 12},   {"train_peft", 17},
                                               {"classifier_expert", 2}, {"fewshot_search", 9}, {"evaluate", 96}};
  EXPECT_EQ(plan.count_by_kind(), kinds);
  // Topological: every dependency comes earlier.
  std::set<std::string> seen;
  for (const auto& j : plan.jobs) {
    for (const auto& d : j.deps) EXPECT_TRUE(seen.count(d)) << j.id << " before " << d;
    seen.insert(j.id);
  }
  auto js = plan.to_json();
  EXPECT_EQ(js["edges"].size(), plan.edge_count());
  EXPECT_EQ(js["jobs"].size(), plan.jobs.size());
}

TEST_F(PaperMatrix, TinyExampleSweepsSeedsAndLearningRates) {
  auto c = load("tiny.yaml");
  auto plan = t2::expand_plan(c);
  const auto* e = c.find_experiment("experts");
  EXPECT_EQ(plan.count_by_kind()["train_expert"], e->tasks.size() * e->seeds.size() * e->params["lr"].size());
}

TEST(Plan, CycleIsDetectedAndNamed) {
  t2::Plan p;
  p.jobs.push_back({"a", "evaluate", "x", "", "", "", 1, "", {}, {"c"}});
  p.jobs.push_back({"b", "evaluate", "x", "", "", "", 1, "", {}, {"a"}});
  p.jobs.push_back({"c", "evaluate", "x", "", "", "", 1, "", {}, {"b"}});
  p.jobs.push_back({"d", "evaluate", "x", "", "", "", 1, "", {}, {}});
  try {
    p.topological_order();
    FAIL() << "no cycle reported";
  } catch (const t2::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dependency cycle: a -> c -> b -> a"), std::string::npos) << e.what();
  }
  p.jobs[0].deps = {};
  EXPECT_EQ(p.topological_order(), (std::vector<std::string>{"a", "b", "c", "d"}));
  p.jobs[3].deps = {"nothing"};
  EXPECT_THROW(p.topological_order(), t2::Error);
}

TEST(Plan, IdenticalJobsOfTwoExperimentsMerge) {
  CampaignDir dir;
  auto c = t2::load_campaign(dir.write(R"(name: merge
data_dir: @DATA@
models: {m: {path: /m}}
tasks: {gsm8k: {}, math: {}}
experiments:
  - {name: a, kind: evaluate, tasks: [gsm8k, math]}
  - {name: b, kind: evaluate, tasks: [math]}
)"));
  auto plan = t2::expand_plan(c);
  EXPECT_EQ(plan.jobs.size(), 2u);
}

TEST(Plan, DryRunTextListsEveryJobAndASummary) {
  CampaignDir dir;
  auto plan = t2::expand_plan(t2::load_campaign(dir.write(kSweep)));
  std::string text = plan.to_text();
  for (const auto& j : plan.jobs) EXPECT_NE(text.find(j.id + " "), std::string::npos) << j.id;
  EXPECT_NE(text.find("summary: " + std::to_string(plan.jobs.size()) + " jobs"), std::string::npos) << text;
  EXPECT_NE(text.find(std::to_string(plan.edge_count()) + " dependency edges"), std::string::npos);
}

TEST(Registry, ListsNamesAndRejectsDuplicates) {
  EXPECT_EQ(t2::task_kinds().names(),
            (std::vector<std::string>{"gsm8k", "math", "mbpp", "humaneval", "arc_easy", "arc_challenge", "cls", "user"}));
  EXPECT_EQ(t2::experiment_kinds().names(),
            (std::vector<std::string>{"decompose", "train_expert", "train_peft", "classifier_expert", "fewshot_search",
                                      "evaluate"}));
  t2::Registry<int> r("widget");
  r.add("alpha", 1);
  EXPECT_THROW(r.add("alpha", 2), t2::Error);
  try {
    r.at("alpah");
    FAIL();
  } catch (const t2::UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "unknown widget 'alpah'; did you mean 'alpha'? valid: alpha");
  }
}

}  // namespace

namespace {

// docs/campaign.md documents every name the validator accepts.
TEST(CampaignDocs, EveryRegisteredNameIsDocumented) {
  const std::string doc = t2::read_file(t2::test::source_dir() + "/docs/campaign.md");
  auto documented = [&](const std::string& n) { return doc.find("`" + n + "`") != std::string::npos; };
  for (const auto& k : t2::experiment_kinds().names()) {
    EXPECT_TRUE(documented(k)) << k;
    for (const auto& s : t2::experiment_kinds().at(k).params) EXPECT_TRUE(documented(s.name)) << k << "." << s.name;
  }
  for (const auto& k : t2::task_kinds().names()) {
    EXPECT_TRUE(documented(k)) << k;
    for (const auto& c : t2::task_kinds().at(k).compat) EXPECT_TRUE(documented(c)) << k << " compat " << c;
    for (const auto& s : t2::task_kinds().at(k).extra) EXPECT_TRUE(documented(s.name)) << k << "." << s.name;
  }
  for (const auto& [c, what] : t2::task_compat_switches()) EXPECT_TRUE(documented(c)) << c;
  for (const auto& m : t2::eval_methods().names()) EXPECT_TRUE(documented(m)) << m;
}

}  // namespace

// models.<name>.path as a Hub id: resolved in the local Hugging Face cache (core/hf-cache.h), the
// snapshot recorded in the resolved campaign; a miss is one problem naming the key, the places
// looked at and the download command, and only where models must exist (not in a dry run).
TEST(Campaign, HubIdsResolveInTheLocalCache) {
  CampaignDir d;
  const std::string hub = d.root() + "/hub", repo = hub + "/models--org--tiny";
  const std::string a(40, 'a'), b(40, 'b');
  for (const auto& commit : {a, b}) {
    t2::make_dirs(repo + "/snapshots/" + commit);
    t2::make_dirs(repo + "/blobs");
    t2::write_file_atomic(repo + "/blobs/" + commit + "-config", "{}");
    std::filesystem::create_symlink("../../blobs/" + commit + "-config", repo + "/snapshots/" + commit + "/config.json");
  }
  t2::make_dirs(repo + "/refs");
  t2::write_file_atomic(repo + "/refs/main", a);
  t2::write_file_atomic(repo + "/refs/v2", b);
  auto opts = env_opts({{"HF_HUB_CACHE", hub}});
  opts.check_model_paths = true;
  const std::string head = "name: hub\ndata_dir: @DATA@\ntasks:\n  gsm8k: {}\nexperiments:\n  - name: eval\n"
                           "    kind: evaluate\n    tasks: [gsm8k]\n    methods: [base]\nmodels:\n";
  auto c = t2::load_campaign(d.write(head + "  m1: {path: org/tiny}\n  m2: {path: org/tiny, revision: v2}\n"), {},
                             opts);
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].path, repo + "/snapshots/" + a);
  EXPECT_EQ(c.models[0].hf_id, "org/tiny");
  EXPECT_EQ(c.models[0].hf_commit, a);
  EXPECT_EQ(c.models[1].hf_commit, b);
  EXPECT_EQ(c.resolved["models"]["m1"]["path"], "org/tiny");  // as given
  EXPECT_EQ(c.resolved["models"]["m1"]["hf_cache"]["commit"], a);
  EXPECT_EQ(c.resolved["models"]["m2"]["hf_cache"]["revision"], "v2");
  EXPECT_EQ(c.resolved["models"]["m2"]["hf_cache"]["commit"], b);

  const std::string missing = d.write(head + "  m1: {path: org/tiny}\n  m3: {path: org/absent}\n", "miss.yaml");
  try {
    t2::load_campaign(missing, {}, opts);
    FAIL() << "a missing id must be a usage error";
  } catch (const t2::UsageError& e) {
    const std::string m = e.what();
    EXPECT_EQ(t2::test::line_count(m), 1u) << m;
    EXPECT_NE(m.find("models.m3.path"), std::string::npos) << m;
    EXPECT_NE(m.find(hub + "/models--org--absent/refs/main"), std::string::npos) << m;
    EXPECT_NE(m.find("huggingface-cli download org/absent"), std::string::npos) << m;
  }
  auto dry = opts;
  dry.check_model_paths = false;
  auto c2 = t2::load_campaign(missing, {}, dry);
  EXPECT_EQ(c2.models[1].path, "org/absent");
  EXPECT_TRUE(c2.models[1].hf_commit.empty());
}
