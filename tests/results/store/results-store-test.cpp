// RunStore and RunReader: every record type round-trips, the single-writer lock refuses a second
// writer with the holder's pid, duplicates and non-monotone checkpoints are refused, old
// checkpoints are pruned, temporary files left by a kill are ignored and then cleaned.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "results/run-layout.h"
#include "results/run-store.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using namespace t2;
using namespace t2::results;

namespace {

struct TempDir {
  std::string path = test::make_temp_dir("store");
  ~TempDir() { fs::remove_all(path); }
};

RunMeta sample_meta() {
  RunMeta m;
  m.name = "unit";
  m.campaign_yaml = "name: unit\nmodels: [llama3-8b]\n";
  m.campaign_resolved = "name: unit\nmodels:\n  - llama3-8b\n";
  m.hosts = {"node1", "node2"};
  m.ranks = 3;
  m.seeds = {42, 43};
  m.models = {{"llama3-8b", "Llama3-8B-Instruct"}};
  m.tasks = {{"gsm8k", "GSM8K"}, {"arc_easy", "ARC-Easy"}};
  m.sandbox_isolation = "rlimits";
  return m;
}

JobInfo eval_job(const std::string& id) {
  return {id, "evaluate", {{"model", "llama3-8b"}, {"task", "gsm8k"}, {"method", "svf"}, {"seed", "42"}}};
}

EvalBatch make_batch(int64_t index, int n, unsigned seed) {
  std::mt19937 g(seed);
  EvalBatch b{index, index * n, {}};
  for (int i = 0; i < n; ++i) {
    int64_t k = b.first_example + i;
    b.records.push_back({"gsm8k/test/" + std::to_string(k), k, fmt::format("{:016x}", g()), "The answer is " + std::to_string(k),
                         std::to_string(k), std::to_string(k + (g() % 2)), double(g() % 2), "gsm8k",
                         int64_t(g() % 500), int64_t(g() % 300)});
  }
  return b;
}

}  // namespace

TEST(RunLayout, JobIdsMapToFolderNamesReversibly) {
  for (std::string id : {"evaluate/llama3-8b/gsm8k/svf/seed42", "a", ".hidden", "x~y%z", "ü/ß", "a b\tc\n",
                         "../../etc"}) {
    std::string d = layout::job_dir_name(id);
    EXPECT_EQ(d.find('/'), std::string::npos) << d;
    EXPECT_NE(d[0], '.') << d;
    EXPECT_EQ(layout::job_id_from_dir(d), id);
  }
  EXPECT_EQ(layout::job_dir_name("evaluate/llama3-8b/gsm8k/svf/seed42"), "evaluate~llama3-8b~gsm8k~svf~seed42");
  std::mt19937 g(7);
  for (int t = 0; t < 200; ++t) {
    std::string id(1 + g() % 40, ' ');
    for (auto& c : id) c = static_cast<char>(1 + g() % 255);
    EXPECT_EQ(layout::job_id_from_dir(layout::job_dir_name(id)), id);
  }
  EXPECT_THROW(layout::job_dir_name(""), UsageError);
  EXPECT_THROW(layout::job_dir_name(std::string(300, 'a')), UsageError);
  EXPECT_THROW(layout::job_id_from_dir("bad%zz"), FormatError);
  EXPECT_EQ(layout::parse_unit_index("eval-000012.h5", "eval-"), 12);
  EXPECT_EQ(layout::parse_unit_index("eval-000012.h5.tmp.1.2", "eval-"), std::nullopt);
  EXPECT_EQ(layout::parse_unit_index("ckpt-12.h5", "eval-"), std::nullopt);
}

TEST(Metrics, AccuracyAndStandardError) {
  auto m = Metrics::from_scores({1, 0, 1, 1});
  EXPECT_EQ(m.n, 4);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.standard_error, std::sqrt(0.75 * 0.25 / 4));
  EXPECT_EQ(Metrics::from_scores({}).n, 0);
}

TEST(RunStore, EveryRecordRoundTrips) {
  TempDir t;
  const std::string id = "evaluate/llama3-8b/gsm8k/svf/seed42";
  const std::string tid = "train-expert/llama3-8b/gsm8k";
  const std::string cid = "few-shot-search/llama3-8b/arc_challenge";
  std::vector<EvalBatch> batches = {make_batch(0, 7, 1), make_batch(1, 7, 2), make_batch(2, 3, 3)};
  CheckpointState ck;
  ck.step = 40;
  ck.best_score = 0.61;
  ck.best_step = 30;
  ck.floats["z/layers.0.mlp.up_proj"] = {0.1f, 0.2f, -0.3f};
  ck.floats["adam_m"] = {1e-3f, 2e-3f};
  ck.ints["data_cursor"] = {123, 7};
  ck.bytes["rng/torch"] = {0, 1, 2, 255};
  ck.scalars["lr"] = 2e-3;
  ck.strings["optimizer"] = "adam";
  for (int s = 1; s <= 40; ++s)
    ck.curve.points.push_back({s, 0.5 + s * 0.01, 0.1, -0.2, 0.01, 1.5, s % 10 == 0 ? 0.5 + s / 100.0 : std::nan("")});
  CemGeneration gen{3, {0.1, 0.2}, {0.05, 0.04}, 0.82, {0.3, 0.7}, {0.8, 0.82, 0.79}, {{"rng", {9, 8}}}};
  {
    auto store = RunStore::open_for_write(t.path, sample_meta());
    store.begin_job(eval_job(id));
    for (auto& b : batches) store.write_eval_batch(id, b);
    store.write_metrics(id, Metrics::from_records(store.reader().read_examples(id)));
    store.mark_done(id);
    store.begin_job({tid, "train-expert", {{"task", "gsm8k"}}});
    store.write_checkpoint(tid, ck);
    store.write_unit(tid, "expert.h5", [&](h5::File& f) { f.write("z", ck.floats["z/layers.0.mlp.up_proj"]); });
    store.begin_job({cid, "few-shot-search", {}});
    store.write_cem_generation(cid, gen);
    store.finish_run();
  }
  RunReader r(t.path);
  auto meta = r.meta();
  EXPECT_EQ(meta.campaign_yaml, sample_meta().campaign_yaml);
  EXPECT_EQ(meta.campaign_resolved, sample_meta().campaign_resolved);
  EXPECT_EQ(meta.hosts, sample_meta().hosts);
  EXPECT_EQ(meta.seeds, sample_meta().seeds);
  EXPECT_EQ(meta.ranks, 3);
  EXPECT_EQ(meta.models[0].display_name, "Llama3-8B-Instruct");
  EXPECT_EQ(meta.tasks[1].key, "arc_easy");
  EXPECT_FALSE(meta.started_at.empty());
  EXPECT_FALSE(meta.ended_at.empty());
  EXPECT_FALSE(meta.t2_version.empty());
  EXPECT_EQ(meta.sessions, 1);
  EXPECT_EQ(meta.sandbox_isolation, "rlimits");

  EXPECT_EQ(r.job_ids(), (std::vector<std::string>{id, cid, tid}));
  auto j = r.job(id);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->kind, "evaluate");
  EXPECT_EQ(j->params.at("method"), "svf");
  EXPECT_EQ(j->status, JobStatus::done);
  EXPECT_EQ(j->attempts, 1);
  EXPECT_FALSE(j->finished_at.empty());
  EXPECT_EQ(r.job_status(id), JobStatus::done);
  EXPECT_EQ(r.job_status(tid), JobStatus::running);
  EXPECT_EQ(r.job_status("nope"), JobStatus::pending);

  EXPECT_EQ(r.eval_batches(id), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(r.next_eval_batch(id), 3);
  EXPECT_EQ(r.missing_eval_batches(id, 5), (std::vector<int64_t>{3, 4}));
  auto b1 = r.read_eval_batch(id, 1);
  EXPECT_EQ(b1.first_example, 7);
  ASSERT_EQ(b1.records.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    const auto& a = b1.records[i];
    const auto& e = batches[1].records[i];
    EXPECT_EQ(a.example_id, e.example_id);
    EXPECT_EQ(a.example_index, e.example_index);
    EXPECT_EQ(a.prompt_hash, e.prompt_hash);
    EXPECT_EQ(a.response, e.response);
    EXPECT_EQ(a.extracted, e.extracted);
    EXPECT_EQ(a.reference, e.reference);
    EXPECT_EQ(a.score, e.score);
    EXPECT_EQ(a.route, e.route);
    EXPECT_EQ(a.prompt_tokens, e.prompt_tokens);
    EXPECT_EQ(a.response_tokens, e.response_tokens);
  }
  // Metrics recomputed independently from the records written.
  double sum = 0;
  int n = 0;
  for (auto& b : batches)
    for (auto& rec : b.records) sum += rec.score, ++n;
  auto m = r.metrics(id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->n, n);
  EXPECT_DOUBLE_EQ(m->accuracy, sum / n);

  auto c = r.latest_checkpoint(tid);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->step, 40);
  EXPECT_EQ(c->best_step, 30);
  EXPECT_EQ(c->floats, ck.floats);
  EXPECT_EQ(c->ints, ck.ints);
  EXPECT_EQ(c->bytes, ck.bytes);
  EXPECT_EQ(c->scalars, ck.scalars);
  EXPECT_EQ(c->strings, ck.strings);
  ASSERT_EQ(c->curve.points.size(), 40u);
  EXPECT_EQ(c->curve.points[9].val_accuracy, 0.6);
  EXPECT_TRUE(std::isnan(c->curve.points[8].val_accuracy));
  EXPECT_EQ(c->curve.points[39].reward_mean, 0.5 + 40 * 0.01);
  EXPECT_EQ(r.training_curve(tid).points.size(), 40u);
  EXPECT_EQ(h5::File::open(r.unit_path(tid, "expert.h5")).read_vector<float>("z"), ck.floats["z/layers.0.mlp.up_proj"]);

  auto h = r.cem_history(cid);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].generation, 3);
  EXPECT_EQ(h[0].best_alpha, gen.best_alpha);
  EXPECT_EQ(h[0].population_scores, gen.population_scores);
  EXPECT_EQ(h[0].bytes, gen.bytes);
  EXPECT_TRUE(r.verify().empty());
}

TEST(RunStore, SecondWriterIsRefusedNamingTheHolder) {
  TempDir t;
  auto store = RunStore::open_for_write(t.path, sample_meta());
  auto start = Clock::now();
  try {
    RunStore::open_for_write(t.path, sample_meta(), Deadline::after(Seconds(0.2)));
    FAIL() << "a second writer was let in";
  } catch (const Error& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("pid " + std::to_string(::getpid())), std::string::npos) << w;
    EXPECT_NE(w.find("host "), std::string::npos) << w;
    EXPECT_NE(w.find(t.path), std::string::npos) << w;
  }
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));  // it waited for its deadline
  // Readers are not blocked by the writer.
  EXPECT_EQ(RunReader(t.path).meta().name, "unit");
}

TEST(RunStore, RefusesDuplicatesAndOutOfOrderUnits) {
  TempDir t;
  auto store = RunStore::open_for_write(t.path, sample_meta());
  const std::string id = "evaluate/x";
  EXPECT_THROW(store.write_eval_batch(id, make_batch(0, 2, 1)), Error);  // not begun
  store.begin_job(eval_job(id));
  store.write_eval_batch(id, make_batch(0, 2, 1));
  store.write_eval_batch(id, make_batch(2, 2, 1));  // out of order is fine (parallel groups)
  EXPECT_THROW(store.write_eval_batch(id, make_batch(0, 2, 9)), Error);
  auto r = store.reader();
  EXPECT_EQ(r.next_eval_batch(id), 1);
  EXPECT_EQ(r.missing_eval_batches(id, 4), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(r.read_eval_batch(id, 0).records[0].response, make_batch(0, 2, 1).records[0].response);

  CheckpointState s;
  store.keep_checkpoints = 2;
  for (int64_t step : {10, 20, 30, 40}) {
    s.step = step;
    s.floats["z"] = {float(step)};
    store.write_checkpoint(id, s);
  }
  EXPECT_EQ(r.checkpoint_steps(id), (std::vector<int64_t>{30, 40}));
  s.step = 40;
  EXPECT_THROW(store.write_checkpoint(id, s), Error);
  EXPECT_EQ(r.latest_checkpoint(id)->floats.at("z")[0], 40.0f);
  CemGeneration g;
  g.generation = 1;
  store.write_cem_generation(id, g);
  EXPECT_THROW(store.write_cem_generation(id, g), Error);
  EXPECT_THROW(store.write_unit(id, "../evil.h5", [](h5::File&) {}), Error);
  EXPECT_THROW(store.write_unit(id, "DONE", [](h5::File&) {}), Error);
}

TEST(RunStore, ResumeKeepsStartCountsSessionsAndCleansTempFiles) {
  TempDir t;
  const std::string id = "train-expert/m/t";
  std::string started;
  {
    auto store = RunStore::open_for_write(t.path, sample_meta());
    store.begin_job({id, "train-expert", {}});
    started = store.meta().started_at;
  }
  // What a kill -9 in the middle of a unit leaves behind.
  std::string d = RunReader(t.path).job_dir(id);
  write_file_atomic(d + "/ckpt-000050.h5.tmp.999.0", "partial");
  write_file_atomic(t.path + "/run.h5.tmp.999.1", "partial");
  RunReader r(t.path);
  EXPECT_TRUE(r.checkpoint_steps(id).empty());   // ignored by readers
  EXPECT_TRUE(r.verify().empty());
  {
    auto meta = sample_meta();
    meta.name = "renamed";
    auto store = RunStore::open_for_write(t.path, meta);
    EXPECT_EQ(store.meta().sessions, 2);
    EXPECT_EQ(store.meta().started_at, started);
    store.begin_job({id, "train-expert", {}});
  }
  EXPECT_FALSE(path_exists(d + "/ckpt-000050.h5.tmp.999.0"));
  EXPECT_FALSE(path_exists(t.path + "/run.h5.tmp.999.1"));
  EXPECT_EQ(r.meta().name, "renamed");
  EXPECT_EQ(r.job(id)->attempts, 2);
  {
    auto store = RunStore::open_for_write(t.path, sample_meta());
    store.mark_done(id);
    store.begin_job({id, "train-expert", {}});  // a resumed campaign re-announcing a finished job
  }
  EXPECT_EQ(r.job(id)->status, JobStatus::done);
  EXPECT_EQ(r.job(id)->attempts, 2);
}

TEST(RunReader, RejectsWhatIsNotARun) {
  TempDir t;
  try {
    RunReader r(t.path);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not a t2 run directory"), std::string::npos);
  }
  write_file_atomic(t.path + "/run.h5", "garbage");
  RunReader r(t.path);
  EXPECT_THROW(r.meta(), FormatError);
  EXPECT_FALSE(r.verify().empty());
}

// prompt_hash must be recomputable outside t2: Python's own FNV-1a over the UTF-8 bytes agrees.
TEST(PromptHash, MatchesAnIndependentPythonFnv1a) {
  std::vector<std::string> prompts = {"", "a", "Question: 2+2?\nAnswer:", "ünïcødé ✓", std::string(1000, 'x')};
  std::string script =
      "import sys\n"
      "for p in sys.stdin.read().split('\\x1e'):\n"
      "    h = 0xcbf29ce484222325\n"
      "    for b in p.encode():\n"
      "        h = ((h ^ b) * 0x100000001b3) % 2**64\n"
      "    print('%016x' % h)\n";
  std::string input;
  for (size_t i = 0; i < prompts.size(); ++i) input += (i ? "\x1e" : "") + prompts[i];
  SubprocessOptions o;
  o.stdin_data = input;
  o.timeout = Seconds(60);
  auto r = run_subprocess({test::python3(), "-c", script}, o);
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  std::istringstream in(r.out);
  for (auto& p : prompts) {
    std::string want;
    in >> want;
    EXPECT_EQ(prompt_hash(p), want) << p;
  }
  EXPECT_NE(prompt_hash("a"), prompt_hash("b"));
}
