// `t2 report` and `t2 table` as commands: the report is one self-contained HTML file whose charts
// headless Chromium actually renders (titles in the DOM, the curve, CEM and bar colours present in
// the screenshot); the table command prints what the library renders and maps bad input to exit 2;
// the t2 binary's output is checked against h5py reading the same run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "cli-harness.h"
#include "core/files.h"
#include "png-decode.h"
#include "report-fixture.h"
#include "results/report-html.h"
#include "results/result-table.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using namespace t2;
using namespace t2::results;

namespace {

class ReportRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("report");
    fixture::write_report_run(dir_ + "/run");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string run() const { return dir_ + "/run"; }
  std::string dir_;
};

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

std::vector<std::string> chromium_args(const std::string& profile) {
  return {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--user-data-dir=" + profile, "--hide-scrollbars", "--window-size=1400,3000"};
}

}  // namespace

TEST_F(ReportRun, ReportIsSelfContainedAndHasEveryChart) {
  auto r = test::run_results_cli({"report", run(), "--out", dir_ + "/report.html"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string html = read_file(dir_ + "/report.html");
  // Self-contained: nothing to fetch (the SVG namespace is an identifier, not a request).
  std::string stripped = std::regex_replace(html, std::regex("xmlns=\"http://www.w3.org/2000/svg\""), "");
  EXPECT_EQ(stripped.find("http://"), std::string::npos);
  EXPECT_EQ(stripped.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 3u /*bars*/ + 4u /*curves*/ + 1u /*cem*/);
  // cells with their standard error (n = 1319: 100 sqrt(0.7915 x 0.2085 / 1319) = 1.12), bars with error bars
  EXPECT_NE(html.find("<td>+ SVF</td><td>79.15 ± 1.12 (1.04)</td>"), std::string::npos);
  EXPECT_GE(count(html, "<g class=\"errorbar\""), 9u);
  EXPECT_NE(html.find("error bars: ± standard error"), std::string::npos);
  EXPECT_NE(html.find("Reward: train-expert/llama3-8b/gsm8k"), std::string::npos);
  EXPECT_NE(html.find("CEM best score: few-shot-search/llama3-8b/arc_challenge"), std::string::npos);
  EXPECT_NE(html.find("best-on-validation"), std::string::npos);
  EXPECT_EQ(test::run_results_cli({"report", run()}).code, 2);  // --out is required
}

TEST_F(ReportRun, ChromiumRendersTheCharts) {
  if (!test::have_program("chromium")) GTEST_SKIP() << "chromium not installed";
  std::string html = dir_ + "/report.html";
  auto r = test::run_results_cli({"report", run(), "--out", html});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string url = "file://" + html;

  fs::create_directories(dir_ + "/profile-dom");
  auto args = chromium_args(dir_ + "/profile-dom");
  args.insert(args.end(), {"--dump-dom", url});
  auto dom = run_subprocess(args, {.timeout = Seconds(45)});
  ASSERT_TRUE(dom.ok()) << dom.describe() << "\n" << dom.err.substr(0, 2000);
  for (const char* title : {"Scores on GSM8K", "Scores on MBPP-Pro", "Scores on ARC-Easy",
                            "Reward: train-expert/llama3-8b/gsm8k", "Validation accuracy: train-expert/llama3-8b/mbpp_pro",
                            "CEM best score: few-shot-search/llama3-8b/arc_challenge"})
    EXPECT_NE(dom.out.find(title), std::string::npos) << title;
  EXPECT_EQ(count(dom.out, "<svg"), 8u);

  fs::create_directories(dir_ + "/profile-shot");
  args = chromium_args(dir_ + "/profile-shot");
  std::string png = dir_ + "/shot.png";
  args.insert(args.end(), {"--screenshot=" + png, url});
  auto shot = run_subprocess(args, {.timeout = Seconds(45)});
  ASSERT_TRUE(shot.ok()) << shot.describe() << "\n" << shot.err.substr(0, 2000);
  if (const char* keep = std::getenv("T2_REPORT_SAMPLE_DIR")) {  // to look at what was rendered
    fs::copy_file(html, std::string(keep) + "/report.html", fs::copy_options::overwrite_existing);
    fs::copy_file(png, std::string(keep) + "/report.png", fs::copy_options::overwrite_existing);
  }
  auto img = test::decode_png(png);
  EXPECT_EQ(img.width, 1400);
  // Every chart kind drew its marks: reward line and band, validation points/line, CEM lines, and
  // the bars of each method present (base, LoRA, SVF).
  struct Want {
    const char* what;
    std::string color;
    size_t min_pixels;
  };
  const auto& mc = report_colors::methods();
  for (const Want& w : std::vector<Want>{{"reward curve", report_colors::reward, 300},
                                         {"reward band", report_colors::reward_band, 300},
                                         {"validation accuracy", report_colors::validation, 100},
                                         {"CEM best score", report_colors::cem_best, 200},
                                         {"CEM population mean", report_colors::cem_mean, 200},
                                         {"base bars", mc[0], 2000},
                                         {"LoRA bars", mc[1], 2000},
                                         {"SVF bars", mc[2], 2000}}) {
    size_t n = test::count_color(img, w.color);
    EXPECT_GE(n, w.min_pixels) << w.what << " (" << w.color << ") has " << n << " pixels in the screenshot";
  }
  // T² methods are not in this run: their colours must not appear (no stray marks).
  EXPECT_LT(test::count_color(img, mc[5], 2), 50u);
}

TEST_F(ReportRun, TableCommandPrintsTheLibraryTableAndRejectsBadInput) {
  auto r = test::run_results_cli({"table", run(), "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, render_table(build_result_table({RunReader(run())}), TableFormat::json));
  r = test::run_results_cli({"table", run(), "--methods", "svf,base", "--decimals", "1", "--no-se"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| + SVF | 79.2 (1.0) | 66.7 (1.0) | 89.6 (1.0) |"), std::string::npos) << r.out;
  r = test::run_results_cli({"table", run(), "--methods", "svf,base", "--decimals", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| + SVF | 79.2 ± 1.1 (1.0) |"), std::string::npos) << r.out;
  r = test::run_results_cli({"table", run(), "--check-records"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Checked against the per-example records: 0 evaluation(s), 0 examples, all agree; 18 "
                       "evaluation(s) have no records to check."),
            std::string::npos)
      << r.out;
  r = test::run_results_cli({"table", run(), "--format", "xlsx"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown table format 'xlsx'"), std::string::npos) << r.err;
  r = test::run_results_cli({"table", dir_ + "/nowhere"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a t2 run directory"), std::string::npos) << r.err;
  EXPECT_EQ(test::run_results_cli({"table"}).code, 2);
}

// The t2 binary itself (present when the whole project is built): its JSON table checked by h5py.
TEST_F(ReportRun, T2BinaryTableMatchesH5py) {
  if (!fs::exists(test::t2_binary())) GTEST_SKIP() << "t2 binary not built (" << test::t2_binary() << ")";
  auto r = test::run_t2({"table", run(), "--format", "json"}, Seconds(60));
  if (r.exit_code == 3) GTEST_SKIP() << "this t2 binary was built without the table command";
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.err;
  write_file_atomic(dir_ + "/printed.json", r.out);
  std::string script = R"PY(
import sys, os, json, h5py
run, printed = sys.argv[1], json.load(open(sys.argv[2]))
def s(x): return x.decode() if isinstance(x, bytes) else x
vals = {}
for d in os.listdir(os.path.join(run, 'jobs')):
    jd = os.path.join(run, 'jobs', d)
    if not os.path.exists(os.path.join(jd, 'result.h5')): continue
    with h5py.File(os.path.join(jd, 'job.h5'), 'r') as j:
        p = {k: s(v) for k, v in j['params'].attrs.items()}
    with h5py.File(os.path.join(jd, 'result.h5'), 'r') as f:
        vals[(p['model'], p['task'], p['method'])] = 100 * float(f.attrs['accuracy'])
n = 0
for row in printed['rows']:
    for task, cell in row['cells'].items():
        v = vals[(row['model'], task, row['method'])]
        assert abs(cell['score'] - v) < 1e-9, (row['label'], task, cell['score'], v)
        assert abs(cell['normalised'] - v / vals[(row['model'], task, 'base')]) < 1e-12
        n += 1
assert n == len(vals)
print(n)
)PY";
  write_file_atomic(dir_ + "/check.py", script);
  auto py = run_subprocess({test::python3(), dir_ + "/check.py", run(), dir_ + "/printed.json"}, {.timeout = Seconds(60)});
  ASSERT_TRUE(py.ok()) << py.describe() << "\n" << py.err;
  EXPECT_EQ(std::stoi(py.out), 18);
}
