// Malformed campaigns: each case asserts the exact "FILE:LINE:COL: key.path:" prefix of its one
// message and the gist of what is wrong, so a wrong position or key path fails the test.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "campaign-fixture.h"
#include "core/error.h"
#include "core/files.h"
#include "jobs/campaign.h"

namespace {

using t2::test::CampaignDir;

// The valid campaign every case starts from (line numbers matter: see the comments).
const char* kBase =
    "name: t\n"                   // 1
    "data_dir: @DATA@\n"          // 2
    "models:\n"                   // 3
    "  m1:\n"                     // 4
    "    path: /models/m1\n"      // 5
    "tasks:\n"                    // 6
    "  gsm8k: {}\n"               // 7
    "  math: {}\n"                // 8
    "experiments:\n"              // 9
    "  - name: experts\n"         // 10
    "    kind: train_expert\n"    // 11
    "    tasks: [gsm8k]\n"        // 12
    "    steps: 2\n"              // 13
    "  - name: eval\n"            // 14
    "    kind: evaluate\n"        // 15
    "    tasks: [gsm8k, math]\n"  // 16
    "    methods: [base]\n";      // 17

// kBase with line `line` (1-based) replaced by `text` (which may hold several lines or none).
std::string with(std::map<int, std::string> repl, const std::string& append = "") {
  std::istringstream in(kBase);
  std::string out, l;
  for (int n = 1; std::getline(in, l); ++n) {
    auto it = repl.find(n);
    if (it == repl.end())
      out += l + "\n";
    else if (!it->second.empty())
      out += it->second + "\n";
  }
  return out + append;
}

class Malformed : public ::testing::Test {
 protected:
  CampaignDir dir;

  // Loads and returns the UsageError message (the test fails when loading succeeds).
  std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
    path = dir.write(yaml);
    try {
      t2::load_campaign(path, overrides);
    } catch (const t2::UsageError& e) {
      EXPECT_EQ(e.code(), t2::ExitCode::usage_error);
      return e.what();
    }
    ADD_FAILURE() << "campaign loaded without error:\n" << yaml;
    return "";
  }

  // One problem: exactly one line, starting with "<file>:<pos>: <key>: " and containing `gist`.
  void expect_one(const std::string& yaml, const std::string& pos, const std::string& key, const std::string& gist,
                  const std::vector<std::string>& overrides = {}) {
    std::string msg = error_of(yaml, overrides);
    EXPECT_EQ(t2::test::line_count(msg), 1u) << msg;
    std::string prefix = (pos[0] == '<' ? pos : path + ":" + pos) + ": " + key + ": ";
    EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "expected prefix: " << prefix << "\ngot: " << msg;
    EXPECT_NE(msg.find(gist), std::string::npos) << "expected gist: " << gist << "\ngot: " << msg;
  }

  std::string path;
};

TEST_F(Malformed, BaseIsValid) {
  auto c = t2::load_campaign(dir.write(kBase));
  EXPECT_EQ(c.name, "t");
}

TEST_F(Malformed, UnknownTopLevelKey) {
  expect_one(with({{1, "name: t\nseeed: 3"}}), "2:1", "seeed", "unknown key 'seeed'; did you mean 'seed'? valid: name");
}

// Every timeouts key takes effect (docs/cluster.md); sandbox_program, which nothing read, is refused.
TEST_F(Malformed, TimeoutKeys) {
  auto c = t2::load_campaign(dir.write(with({}, "timeouts: {evaluation_batch: 30, cem_chunk: 60, decompose: 900, "
                                                "generate: 120, gradient: 120, collective: 50, file_lock: 9}\n")));
  EXPECT_EQ(c.timeouts.at("evaluation_batch"), 30);
  EXPECT_EQ(c.timeouts.at("collective"), 50);
  expect_one(with({}, "timeouts:\n  sandbox_program: 5\n"), "19:3", "timeouts.sandbox_program",
             "unknown key 'sandbox_program'");
}

TEST_F(Malformed, UnknownHyperparameterSuggestsClosest) {
  expect_one(with({{13, "    lrr: 0.1"}}), "13:5", "experiments.experts.lrr",
             "unknown key 'lrr'; did you mean 'lr'? valid: ");
}

TEST_F(Malformed, WrongTypeInteger) {
  expect_one(with({{13, "    steps: many"}}), "13:12", "experiments.experts.steps", "got 'many'; expected an integer");
}

TEST_F(Malformed, NegativeLearningRate) {
  expect_one(with({{13, "    lr: -1e-3"}}), "13:9", "experiments.experts.lr", "out of range; expected a value > 0");
}

TEST_F(Malformed, TensorParallelNotPowerOfTwo) {
  expect_one(with({{5, "    path: /models/m1\n    tp: 3"}}), "6:9", "models.m1.tp", "expected a power of two");
}

TEST_F(Malformed, UnknownDtypeSuggests) {
  expect_one(with({{5, "    path: /models/m1\n    dtype: bf61"}}), "6:12", "models.m1.dtype",
             "unknown value 'bf61'; did you mean 'bf16'? valid: bf16, fp16, fp32");
}

TEST_F(Malformed, UnknownTaskKind) {
  expect_one(with({{8, "  math: {}\n  extra: {kind: gsm9k}"}}), "9:17", "tasks.extra.kind",
             "unknown task kind 'gsm9k'; did you mean 'gsm8k'?");
}

TEST_F(Malformed, UnknownTaskReference) {
  expect_one(with({{12, "    tasks: [gsm8k, mathh]"}}), "12:20", "experiments.experts.tasks",
             "unknown task 'mathh'; did you mean 'math'? valid: gsm8k, math");
}

TEST_F(Malformed, UnknownModelReference) {
  expect_one(with({{13, "    steps: 2\n    models: [m2]"}}), "14:14", "experiments.experts.models",
             "unknown model 'm2'; did you mean 'm1'? valid: m1");
}

TEST_F(Malformed, UnknownExperimentKind) {
  expect_one(with({{11, "    kind: train_experts"}}), "11:11", "experiments.experts.kind",
             "unknown experiment kind 'train_experts'; did you mean 'train_expert'?");
}

TEST_F(Malformed, DuplicateExperimentNames) {
  // With two experiments named "eval" the key path falls back to the position.
  expect_one(with({{10, "  - name: eval"}}), "14:11", "experiments.1.name", "duplicate experiment name 'eval' (first at ");
}

TEST_F(Malformed, DependsOnNothing) {
  expect_one(with({{17, "    methods: [base]\n    depends_on: [exprts]"}}), "18:17", "experiments.eval.depends_on",
             "no experiment named 'exprts'; did you mean 'experts'?");
}

TEST_F(Malformed, MissingDataFile) {
  expect_one(with({{8, "  math:\n    data: {test: /no/such/math.jsonl}"}}), "9:18", "tasks.math.data.test",
             "data file '/no/such/math.jsonl' does not exist");
}

TEST_F(Malformed, DuplicateKeyInMapping) {
  expect_one(with({{5, "    path: /models/m1\n    path: /models/m2"}}), "6:5", "models.m1.path",
             "duplicate key (first at ");
}

TEST_F(Malformed, YamlSyntaxErrorKeepsParserPosition) {
  const std::string yaml = with({{12, "    tasks: [gsm8k"}});
  std::string msg = error_of(yaml);
  // The reference is yaml-cpp itself: same position (made 1-based) and message.
  try {
    YAML::Load(t2::read_file(path));
    FAIL() << "yaml-cpp accepted the text";
  } catch (const YAML::ParserException& e) {
    const std::string want = path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                             ": yaml: " + e.msg + "; expected valid YAML";
    EXPECT_EQ(msg, want);
    EXPECT_GE(e.mark.line + 1, 12);
  }
}

TEST_F(Malformed, MissingName) {
  std::string msg = error_of(with({{1, ""}}));
  EXPECT_EQ(msg.rfind(path + ":1:1: name: missing required key 'name'", 0), 0u) << msg;
}

TEST_F(Malformed, MoreElitesThanPopulation) {
  expect_one(with({}, "  - name: fs\n    kind: fewshot_search\n    tasks: [math]\n    population: 4\n    elites: 6\n"),
             "22:13", "experiments.fs.elites", "more elites than the population");
}

TEST_F(Malformed, SvfOnTaskWithoutExpertNamesTheCell) {
  expect_one(with({{17, "    methods: [base, svf]"}}), "17:14", "experiments.eval.methods",
             "cell m1/math/svf/seed42 needs an expert trained on task 'math'");
}

TEST_F(Malformed, UnsetEnvironmentVariable) {
  expect_one(with({{5, "    path: ${T2_TEST_SURELY_UNSET_VAR}"}}), "5:11", "models.m1.path",
             "variable 'T2_TEST_SURELY_UNSET_VAR' is not set and has no default");
}

TEST_F(Malformed, BadSplitStage) {
  expect_one(with({{7, "  gsm8k:\n    split: {train: \"train|evn\"}"}}), "8:20", "tasks.gsm8k.split.train",
             "unknown stage 'evn'; did you mean 'even'?");
}

TEST_F(Malformed, SplitReadsMissingDataKey) {
  expect_one(with({{8, "  math:\n    split: {test: tset}"}}), "9:19", "tasks.math.split.test",
             "reads data key 'tset', which the task does not have; did you mean 'test'?");
}

TEST_F(Malformed, BadSlurmTime) {
  expect_one(with({}, "slurm:\n  time: 25h\n"), "19:9", "slurm.time", "expected a Slurm time");
}

TEST_F(Malformed, SlurmExtraLineWithoutSbatch) {
  expect_one(with({}, "slurm:\n  extra: [\"--constraint=a100\"]\n"), "19:10", "slurm.extra",
             "expected every extra line to start with '#SBATCH '");
}

TEST_F(Malformed, DuplicateSeed) {
  expect_one(with({{1, "name: t\nseed: [1, 1]"}}), "2:11", "seed", "seed 1 is listed twice");
}

TEST_F(Malformed, ListWhereNoSweepIsAllowed) {
  expect_one(with({{8, "  math:\n    max_new_tokens: [256, 512]"}}), "9:21", "tasks.math.max_new_tokens",
             "got a list, but 'max_new_tokens' cannot be swept here");
}

TEST_F(Malformed, ExcludeUnknownMethod) {
  expect_one(with({{17, "    methods: [base]\n    exclude: [{method: svff}]"}}), "18:24",
             "experiments.eval.exclude.0.method", "method 'svff' is not in this experiment's methods");
}

TEST_F(Malformed, UnknownCompatSwitch) {
  expect_one(with({{7, "  gsm8k:\n    compat: [gsm8k_regexp]"}}), "8:14", "tasks.gsm8k.compat",
             "unknown compat switch 'gsm8k_regexp' for task kind gsm8k; did you mean 'gsm8k_regex'?");
}

TEST_F(Malformed, OverrideOfUnknownKeyPointsAtTheOverride) {
  expect_one(kBase, "<override 2>", "experiments.experts.lrr", "unknown key 'lrr'; did you mean 'lr'?",
             {"seed=7", "experiments.experts.lrr=1e-3"});
}

TEST_F(Malformed, OverrideOfUnknownExperiment) {
  expect_one(kBase, "<override 1>", "experiments.exprts", "no element named 'exprts' in experiments; did you mean 'experts'?",
             {"experiments.exprts.lr=1e-3"});
}

TEST_F(Malformed, OverrideWithBadValue) {
  expect_one(kBase, "<override 1>", "models.m1.tp", "expected a power of two", {"models.m1.tp=6"});
}

TEST_F(Malformed, ClassifierWithoutClsTask) {
  expect_one(with({}, "  - kind: classifier_expert\n"), "18:5", "experiments.classifier_expert.task",
             "no task named 'cls'; expected a task of kind cls");
}

TEST_F(Malformed, TensorParallelBeyondAllocation) {
  expect_one(with({{5, "    path: /models/m1\n    tp: 16"}}, "slurm: {nodes: 1, gpus_per_node: 8}\n"), "6:9",
             "models.m1.tp", "tp 16 needs more GPUs than the 8 of the Slurm allocation");
}

TEST_F(Malformed, GroupBaselineWithOneSample) {
  expect_one(with({{13, "    baseline: group_mean"}}), "13:15", "experiments.experts.baseline",
             "a group-mean baseline of one sample is always zero");
}

TEST_F(Malformed, DependencyCycle) {
  expect_one(with({{13, "    steps: 2\n    depends_on: [eval]"}, {17, "    methods: [base]\n    depends_on: [experts]"}}),
             "14:17", "experiments.experts.depends_on", "dependency cycle: ");
}

TEST_F(Malformed, InvalidModelName) {
  expect_one(with({{4, "  m.1:"}, {5, "    path: /models/m1\n  m1: {path: /x}"}}), "4:3", "models.m.1",
             "'m.1' is not a valid model name");
}

TEST_F(Malformed, AmbiguousExpertsForFewshot) {
  expect_one(with({}, "  - name: experts2\n    kind: train_expert\n    tasks: [gsm8k]\n    lr: 1e-3\n"
                      "  - name: fs\n    kind: fewshot_search\n    tasks: [math]\n"),
             "22:5", "experiments.fs.experts", "more than one train_expert experiment; which one is meant?");
}

TEST_F(Malformed, UserTaskWithoutScorer) {
  expect_one(with({{8, "  math: {}\n  mine:\n    kind: user\n    data: {test: @DATA@/user.jsonl}"}}), "10:5",
             "tasks.mine.scorer", "missing required key 'scorer'; expected one of exact, numeric");
}

TEST_F(Malformed, EveryProblemIsReportedInFileOrder) {
  std::string msg = error_of(with({{5, "    path: /models/m1\n    dtype: bf61"}, {13, "    lrr: 0.1"}}));
  ASSERT_EQ(t2::test::line_count(msg), 2u) << msg;
  EXPECT_EQ(msg.rfind(path + ":6:12: models.m1.dtype: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("\n" + path + ":14:5: experiments.experts.lrr: "), std::string::npos) << msg;
}

TEST_F(Malformed, MissingCampaignFile) {
  try {
    t2::load_campaign(dir.root() + "/absent.yaml");
    FAIL() << "no error";
  } catch (const t2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.yaml: campaign file does not exist"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

TEST_F(Malformed, BadTaskKindIsReportedOnceNotPerReference) {
  // gsm8k is referenced by both experiments; only its kind is reported.
  expect_one(with({{7, "  gsm8k: {kind: gsm8kk}"}}), "7:17", "tasks.gsm8k.kind",
             "unknown task kind 'gsm8kk'; did you mean 'gsm8k'?");
}

}  // namespace

namespace {

TEST_F(Malformed, MissingDataDirIsReportedOnceNotPerDefaultFile) {
  expect_one(with({{2, "data_dir: /no/such/root"}}), "2:11", "data_dir", "directory '/no/such/root' does not exist");
}

}  // namespace

namespace {

// Campaign files that would hang t2 or exhaust its memory or stack are refused quickly with one
// positioned line: a self-referential alias, an exponential alias tree ("billion laughs": 9 levels
// of 10 aliases = 10^9 nodes once expanded), a 100,000-character scalar (std::regex recursion).
class YamlBombs : public Malformed {
 protected:
  void expect_refused_fast(const std::string& yaml, const std::string& gist) {
    auto t0 = std::chrono::steady_clock::now();
    std::string msg = error_of(yaml);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 5.0) << "took " << s << " s";
    EXPECT_EQ(t2::test::line_count(msg), 1u) << msg;
    EXPECT_EQ(msg.rfind(path + ":", 0), 0u) << msg;
    EXPECT_NE(msg.find(gist), std::string::npos) << "expected gist: " << gist << "\ngot: " << msg;
  }
};

std::string billion_laughs(int levels, int fanout) {
  std::string y = "name: t\nlol0: &l0 \"lol\"\n";
  for (int l = 1; l <= levels; ++l) {
    y += "lol" + std::to_string(l) + ": &l" + std::to_string(l) + " [";
    for (int k = 0; k < fanout; ++k) y += (k ? ", *l" : "*l") + std::to_string(l - 1);
    y += "]\n";
  }
  return y;
}

TEST_F(YamlBombs, SelfReferentialAliasInASequence) {
  expect_refused_fast(with({}, "x: &a [1, *a]\n"), "self-referential");
}

TEST_F(YamlBombs, SelfReferentialAliasInAMapping) {
  expect_refused_fast(with({{7, "  gsm8k: &t {compat: *t}"}}), "self-referential");
}

TEST_F(YamlBombs, BillionLaughs) {
  expect_refused_fast(billion_laughs(9, 10), "more than 100000 nodes");
}

TEST_F(YamlBombs, ExponentialAliasesBelowTheBoundStillLoadAsUnknownKeys) {
  // 3 levels of 10 = 1,111 nodes: well inside the bound, so validation (not the bound) answers
  std::string msg = error_of(billion_laughs(3, 10) + "models: {}\n");
  EXPECT_EQ(msg.find("nodes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lol0"), std::string::npos) << msg;
}

TEST_F(YamlBombs, HundredThousandCharacterScalars) {
  std::string digits(100000, '7');
  expect_refused_fast(with({{13, "    steps: " + digits}}), "a scalar of 100000 characters");
  std::string name(100000, 'a');
  expect_refused_fast(with({{1, "name: " + name}}), "a scalar of 100000 characters");
  // just under the bound: parsed, and the scalar checks (no std::regex) answer without recursion
  std::string big(60000, '9');
  std::string msg = error_of(with({{13, "    steps: " + big}}));
  EXPECT_EQ(msg.find("characters"), std::string::npos) << msg.substr(0, 300);
  EXPECT_NE(msg.find("experiments.experts.steps"), std::string::npos) << msg.substr(0, 300);
}

}  // namespace
