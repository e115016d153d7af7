// `t2 table`: the paper's Tables 1 and 2, written as metrics through the results writer, must render
// exactly as published (cell by cell, normalised scores included); merging, seeds, missing cells,
// the other formats, and h5py recomputing the JSON output from the HDF5 files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "paper-fixture.h"
#include "results/result-table.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using namespace t2;
using namespace t2::results;

namespace {

// The published tables show scores only.
TableOptions published() {
  TableOptions o;
  o.show_se = false;
  return o;
}

// METHOD.md §8, Table 1 and Table 2, as published. One cell is corrected: the paper prints
// "81.19 (0.98)" for Mistral + LoRA on ARC-Easy, but 81.19 / 81.65 = 0.994, which is 0.99.
const char* const paper_table1 = R"(| Method | GSM8K | MBPP-Pro | ARC-Easy |
|---|---|---|---|
| Llama3-8B-Instruct | 75.89 (1.00) | 64.65 (1.00) | 88.59 (1.00) |
| + LoRA | 77.18 (1.02) | 67.68 (1.05) | 88.97 (1.00) |
| + SVF | 79.15 (1.04) | 66.67 (1.03) | 89.56 (1.01) |
| Mistral-7B-Instruct-v0.3 | 42.83 (1.00) | 49.50 (1.00) | 81.65 (1.00) |
| + LoRA | 44.66 (1.04) | 51.52 (1.04) | 81.19 (0.99) |
| + SVF | 49.74 (1.16) | 51.52 (1.04) | 85.14 (1.04) |
| Llama3-70B-Instruct | 85.29 (1.00) | 80.81 (1.00) | 89.10 (1.00) |
| + LoRA | 77.26 (0.91) | 68.69 (0.85) | 88.55 (0.99) |
| + SVF | 88.32 (1.04) | 80.81 (1.00) | 88.47 (0.99) |
)";

const char* const paper_table2 = R"(| Method | MATH | HumanEval | ARC-Challenge |
|---|---|---|---|
| Llama3-8B-Instruct | 24.54 (1.00) | 60.98 (1.00) | 80.63 (1.00) |
| + LoRA | 24.12 (0.98) | 52.44 (0.86) | 81.06 (1.01) |
| + T² (Prompt) | 25.22 (1.03) | 61.59 (1.01) | 81.74 (1.01) |
| + T² (Cls-expert) | 25.18 (1.03) | 62.80 (1.03) | 81.37 (1.01) |
| + T² (Few-shot) | 25.47 (1.04) | 62.99 (1.03) | 82.61 (1.02) |
| Mistral-7B-Instruct-v0.3 | 13.02 (1.00) | 43.29 (1.00) | 71.76 (1.00) |
| + LoRA | 13.16 (1.01) | 37.80 (0.87) | 75.77 (1.06) |
| + T² (Prompt) | 11.86 (0.91) | 43.90 (1.01) | 72.35 (1.01) |
| + T² (Cls-expert) | 11.60 (0.89) | 43.90 (1.01) | 74.83 (1.04) |
| + T² (Few-shot) | 13.39 (1.03) | 47.40 (1.09) | 75.47 (1.05) |
| Llama3-70B-Instruct | 40.64 (1.00) | 78.66 (1.00) | 87.63 (1.00) |
| + LoRA | 25.40 (0.62) | 73.78 (0.94) | 83.70 (0.96) |
| + T² (Prompt) | 40.44 (1.00) | 79.88 (1.02) | 88.48 (1.01) |
)";

std::vector<std::vector<std::string>> cells_of(const std::string& md) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '|') continue;
    std::vector<std::string> cells;
    size_t p = 1;
    while (p < line.size()) {
      size_t q = line.find('|', p);
      if (q == std::string::npos) break;
      std::string c = line.substr(p, q - p);
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
      cells.push_back(c);
      p = q + 1;
    }
    rows.push_back(cells);
  }
  return rows;
}

void expect_same_table(const std::string& got, const std::string& want) {
  auto g = cells_of(got), w = cells_of(want);
  ASSERT_EQ(g.size(), w.size()) << got;
  for (size_t r = 0; r < w.size(); ++r) {
    ASSERT_EQ(g[r].size(), w[r].size()) << "row " << r << "\n" << got;
    for (size_t c = 0; c < w[r].size(); ++c) EXPECT_EQ(g[r][c], w[r][c]) << "row " << r << " column " << c;
  }
  // And the table text itself, line for line, before the notes.
  EXPECT_EQ(got.substr(0, std::string(want).size()), want);
}


}  // namespace

static void check_table1(const std::string& root_) {
  auto t = build_result_table({RunReader(root_ + "/t1-a"), RunReader(root_ + "/t1-b")}, published());
  std::string md = render_table(t, TableFormat::markdown);
  expect_same_table(md, paper_table1);
  EXPECT_NE(md.find("best-on-validation"), std::string::npos) << "the selection rule must be stated";
  EXPECT_NE(md.find("final CEM generation"), std::string::npos);
}

static void check_table2(const std::string& root_) {
  auto t = build_result_table({RunReader(root_ + "/t2")}, published());
  expect_same_table(render_table(t, TableFormat::markdown), paper_table2);
}

static void check_formats(const std::string& root_) {
  auto t = build_result_table({RunReader(root_ + "/t2")}, published());
  std::string tex = render_table(t, TableFormat::latex);
  EXPECT_NE(tex.find("+ T$^2$ (Few-shot) & 25.47 (1.04) & 62.99 (1.03) & 82.61 (1.02) \\\\"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\begin{tabular}{lccc}"), std::string::npos);
  std::string csv = render_table(t, TableFormat::csv);
  // CSV carries the standard error, the sd over seeds, seeds and n whatever the text shows
  EXPECT_NE(csv.find("model,method,label,MATH,MATH se,MATH sd,MATH seeds,MATH n,MATH (normalised),MATH (normalised se),"
                     "HumanEval"), std::string::npos) << csv;
  // se = 100 sqrt(0.254 x 0.746 / 5000) = 0.616
  EXPECT_NE(csv.find("Llama3-70B-Instruct,lora,+ LoRA,25.40,0.616,0.000,1,5000,0.62,,73.78,"), std::string::npos) << csv;
  auto j = nlohmann::json::parse(render_table(t, TableFormat::json));
  EXPECT_EQ(j["rows"].size(), fixture::table2_rows.size());
  EXPECT_EQ(j["rows"][4]["label"], "+ T² (Few-shot)");
  EXPECT_NEAR(j["rows"][4]["cells"]["math"]["score"].get<double>(), 25.47, 1e-9);
  EXPECT_EQ(j["rows"][4]["cells"]["math"]["n"], 5000);
  EXPECT_THROW(parse_table_format("html"), UsageError);
}

static void check_method_selection(const std::string& root_) {
  TableOptions o;
  o.methods = {"t2_fewshot", "base"};
  auto t = build_result_table({RunReader(root_ + "/t2")}, o);
  ASSERT_EQ(t.rows.size(), 5u);  // 70B has no few-shot row
  EXPECT_EQ(t.rows[0].label, "+ T² (Few-shot)");
  EXPECT_EQ(t.rows[1].label, "Llama3-8B-Instruct");
  o.methods = {"svff"};
  try {
    build_result_table({RunReader(root_ + "/t1-a")}, o);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'svf'"), std::string::npos) << e.what();
  }
}

// h5py reads the HDF5 files on its own and recomputes every cell of the JSON that t2 printed.
static void check_h5py_recomputes_json(const std::string& root_) {
  auto t = build_result_table({RunReader(root_ + "/t2")});  // with standard errors
  std::string json_path = root_ + "/t2.json";
  write_file_atomic(json_path, render_table(t, TableFormat::json));
  std::string script = R"PY(
import sys, os, json, h5py
run, printed = sys.argv[1], json.load(open(sys.argv[2]))
def s(x): return x.decode() if isinstance(x, bytes) else x
vals = {}
for d in os.listdir(os.path.join(run, 'jobs')):
    jd = os.path.join(run, 'jobs', d)
    with h5py.File(os.path.join(jd, 'job.h5'), 'r') as j:
        assert int(j.attrs['schema_version']) == 1
        p = {k: s(v) for k, v in j['params'].attrs.items()}
    if not os.path.exists(os.path.join(jd, 'DONE')): continue
    with h5py.File(os.path.join(jd, 'result.h5'), 'r') as r:
        vals[(p['model'], p['task'], p['method'])] = (100 * float(r.attrs['accuracy']), int(r.attrs['n']))
checked = 0
for row in printed['rows']:
    for task, cell in row['cells'].items():
        key = (row['model'], task, row['method'])
        if cell is None:
            assert key not in vals, key; continue
        score, n = vals[key]
        base = vals[(row['model'], task, 'base')][0]
        assert abs(cell['score'] - score) < 1e-9, (key, cell, score)
        assert cell['n'] == n, (key, cell, n)
        assert abs(cell['normalised'] - score / base) < 1e-12, (key, cell, score / base)
        p = score / 100
        assert abs(cell['se'] - 100 * (p * (1 - p) / n) ** 0.5) < 1e-9, (key, cell)
        checked += 1
assert checked == len(vals), (checked, len(vals))
print(checked)
)PY";
  write_file_atomic(root_ + "/check.py", script);
  auto r = run_subprocess({test::python3(), root_ + "/check.py", root_ + "/t2", json_path}, {.timeout = Seconds(60)});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  EXPECT_EQ(std::stoi(r.out), static_cast<int>(fixture::table2_rows.size() * 3));
}

// One test case: writing the fixture costs a few seconds of fsyncs, and ctest runs each case in
// its own process.
TEST(PaperTables, RenderAsPublishedMergedInEveryFormatAndRecomputedByH5py) {
  std::string root = test::make_temp_dir("table");
  fixture::write_paper_run(root + "/t1-a", fixture::table1_tasks, fixture::table1_n, fixture::table1_rows,
                           {"llama3-8b", "mistral-7b"});
  fixture::write_paper_run(root + "/t1-b", fixture::table1_tasks, fixture::table1_n, fixture::table1_rows,
                           {"llama3-70b"});
  fixture::write_paper_run(root + "/t2", fixture::table2_tasks, fixture::table2_n, fixture::table2_rows,
                           {"llama3-8b", "mistral-7b", "llama3-70b"});
  {
    SCOPED_TRACE("Table 1 from two merged run directories");
    check_table1(root);
  }
  {
    SCOPED_TRACE("Table 2");
    check_table2(root);
  }
  {
    SCOPED_TRACE("LaTeX, CSV, JSON");
    check_formats(root);
  }
  {
    SCOPED_TRACE("--methods");
    check_method_selection(root);
  }
  {
    SCOPED_TRACE("h5py");
    check_h5py_recomputes_json(root);
  }
  fs::remove_all(root);
}

TEST(ResultTable, SeedsAreAveragedAndMissingCellsShowADash) {
  std::string dir = test::make_temp_dir("seeds");
  {
    RunMeta meta;
    meta.models = {{"m", "Model-M"}};
    meta.tasks = {{"a", "Task A"}, {"b", "Task B"}};  // arc_challenge is not listed: its paper name is used
    auto store = RunStore::open_for_write(dir, meta);
    auto put = [&](const std::string& task, const std::string& method, int seed, double acc) {
      std::string id = fixture::eval_job_id("m", task, method, seed);
      store.begin_job({id, "evaluate", {{"model", "m"}, {"task", task}, {"method", method}, {"seed", std::to_string(seed)}}});
      Metrics m;
      m.accuracy = acc;
      m.n = 100;
      store.write_metrics(id, m);
      store.mark_done(id);
    };
    put("a", "base", 1, 0.50);
    put("a", "svf", 1, 0.60);
    put("a", "svf", 2, 0.70);
    put("b", "svf", 1, 0.40);
    put("a", "myway", 1, 0.55);
    put("arc_challenge", "base", 1, 0.8);
  }
  auto t = build_result_table({RunReader(dir)});
  std::string md = render_table(t, TableFormat::markdown);
  // svf on task a: mean 65, sample std 7.07; task b has no base: no normalised score.
  EXPECT_NE(md.find("| Method | Task A | Task B | ARC-Challenge |"), std::string::npos) << md;
  // one seed: ± the standard error 100 sqrt(p(1-p)/n), n = 100
  EXPECT_NE(md.find("| Model-M | 50.00 ± 5.00 (1.00) | — | 80.00 ± 4.00 (1.00) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| + SVF | 65.00 ± 7.07 (1.30) | 40.00 ± 4.90 (—) | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("| + myway | 55.00 ± 4.97 (1.10) | — | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("standard error"), std::string::npos) << md;
  EXPECT_NE(md.find("standard deviation over seeds"), std::string::npos) << md;
  // Cells trace back to per-example records: --check-records recomputes them, and catches a lie.
  std::string traced = test::make_temp_dir("traced");
  {
    RunMeta meta;
    meta.models = {{"m", "Model-M"}};
    auto store = RunStore::open_for_write(traced, meta);
    for (int k = 0; k < 2; ++k) {
      std::string id = fixture::eval_job_id("m", "a", k ? "svf" : "base", 1);
      store.begin_job({id, "evaluate", {{"model", "m"}, {"task", "a"}, {"method", k ? "svf" : "base"}}});
      EvalBatch b{0, 0, {}};
      for (int i = 0; i < 10; ++i) b.records.push_back({"a/" + std::to_string(i), i, "", "", "", "", i < 5 + k ? 1.0 : 0.0});
      store.write_eval_batch(id, b);
      Metrics m = Metrics::from_records(b.records);
      if (k == 1) m.accuracy = 0.7;  // says 70, records say 60
      store.write_metrics(id, m);
      store.mark_done(id);
    }
  }
  TableOptions check;
  check.check_records = true;
  try {
    build_result_table({RunReader(traced)}, check);
    FAIL() << "a metric that disagrees with its records was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("records give 0.6"), std::string::npos) << e.what();
  }
  EXPECT_NE(render_table(build_result_table({RunReader(traced)}, published()), TableFormat::markdown)
                .find("| + SVF | 70.00 (1.40) |"),
            std::string::npos);
  fs::remove_all(traced);
  // A run with no finished evaluation yet prints an empty table that says so.
  std::string empty = test::make_temp_dir("empty");
  RunStore::open_for_write(empty, RunMeta{});
  std::string md0 = render_table(build_result_table({RunReader(empty)}), TableFormat::markdown);
  EXPECT_NE(md0.find("No evaluate job has final metrics yet."), std::string::npos) << md0;
  fs::remove_all(empty);
  fs::remove_all(dir);
}

namespace {

// Writes an evaluate job whose per-example scores are `scores` (records and metrics agree).
void put_scored(RunStore& store, const std::string& task, const std::string& method, const std::vector<double>& scores,
                const std::map<std::string, std::string>& extra = {}) {
  std::string id = fixture::eval_job_id("m", task, method, 1);
  std::map<std::string, std::string> params = {{"model", "m"}, {"task", task}, {"method", method}, {"seed", "1"}};
  for (auto& [k, v] : extra) params[k] = v;
  store.begin_job({id, "evaluate", params});
  EvalBatch b{0, 0, {}};
  for (size_t i = 0; i < scores.size(); ++i)
    b.records.push_back({task + "/" + std::to_string(i), int64_t(i), "", "", "", "", scores[i]});
  store.write_eval_batch(id, b);
  store.write_metrics(id, Metrics::from_records(b.records));
  store.mark_done(id);
}

TEST(ResultTable, PairedStandardErrorOfTheNormalisedScore) {
  std::string dir = test::make_temp_dir("paired");
  {
    RunMeta meta;
    meta.models = {{"m", "Model-M"}};
    auto store = RunStore::open_for_write(dir, meta);
    std::vector<double> base(10, 0.0), svf(10, 0.0);
    for (int i = 0; i < 5; ++i) base[size_t(i)] = 1;
    for (int i = 0; i < 6; ++i) svf[size_t(i)] = 1;
    put_scored(store, "a", "base", base);
    put_scored(store, "a", "svf", svf);
  }
  auto t = build_result_table({RunReader(dir)});
  // ratio r = 0.6 / 0.5 = 1.2; d_i = x_i - r b_i: five -0.2, one 1, four 0; sd(d) = sqrt(1.2 / 9);
  // SE = sd(d) / sqrt(10) / 0.5 = 0.2309. Score SE: 100 sqrt(0.6 x 0.4 / 10) = 15.49.
  ASSERT_EQ(t.rows.size(), 2u);
  ASSERT_TRUE(t.rows[1].cells[0]->normalised_se.has_value());
  EXPECT_NEAR(*t.rows[1].cells[0]->normalised_se, std::sqrt(1.2 / 9) / std::sqrt(10.0) / 0.5, 1e-12);
  std::string md = render_table(t, TableFormat::markdown);
  EXPECT_NE(md.find("| + SVF | 60.00 ± 15.49 (1.20 ± 0.23) |"), std::string::npos) << md;
  EXPECT_NE(md.find("paired standard error"), std::string::npos) << md;
  auto j = nlohmann::json::parse(render_table(t, TableFormat::json));
  EXPECT_NEAR(j["rows"][1]["cells"]["a"]["normalised_se"].get<double>(), 0.2309401, 1e-6);
  EXPECT_NEAR(j["rows"][1]["cells"]["a"]["se"].get<double>(), 15.4919, 1e-4);
  std::string tex = render_table(t, TableFormat::latex);
  EXPECT_NE(tex.find("60.00 $\\pm$ 15.49 (1.20 $\\pm$ 0.23)"), std::string::npos) << tex;
  fs::remove_all(dir);
}

TEST(ResultTable, BaseOfAnotherEvaluatedSetIsNotUsedToNormalise) {
  std::string dir = test::make_temp_dir("refuse");
  {
    RunMeta meta;
    meta.models = {{"m", "Model-M"}};
    auto store = RunStore::open_for_write(dir, meta);
    put_scored(store, "a", "base", std::vector<double>(10, 1.0));
    put_scored(store, "a", "t2_fewshot", std::vector<double>(8, 1.0));  // the shots left the test split
    put_scored(store, "b", "base", std::vector<double>(10, 1.0));
    put_scored(store, "b", "svf", std::vector<double>(10, 1.0), {{"compat", "[\"gsm8k_regex\"]"}});
  }
  auto t = build_result_table({RunReader(dir)});
  std::string md = render_table(t, TableFormat::markdown);
  EXPECT_NE(md.find("| + T² (Few-shot) | 100.00 ± 0.00 (—) | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("Few-shot) on a: not normalised: base scored n=10 examples, t2_fewshot n=8."), std::string::npos)
      << md;
  EXPECT_NE(md.find("SVF on b: not normalised: base evaluated '', svf 'compat [\"gsm8k_regex\"]'."), std::string::npos)
      << md;
  auto j = nlohmann::json::parse(render_table(t, TableFormat::json));
  EXPECT_TRUE(j["rows"][2]["cells"]["a"]["normalised"].is_null());
  EXPECT_NE(j["rows"][2]["cells"]["a"]["not_normalised"].get<std::string>().find("n=8"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
