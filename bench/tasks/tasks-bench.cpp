// Benchmarks of the tasks part, each with a Python reference measured in the same run:
//   1. GSM8K test (1319 gold solutions) scored by t2 vs. the reference's regex scoring in Python.
//   2. HumanEval's 164 canonical solutions run through the sandbox (bwrap namespaces, limits, a judge
//      and a candidate process each, two programs at a time) vs. Python running the same programs
//      with subprocess in a pool of two (no isolation at all); the sandbox's throughput in
//      programs/s, and the same with isolation: rlimits (the opt-out) for comparison.
// Usage: t2_bench_tasks [DATA_ROOT]   (default: $T2_DATA_DIR, else ../shared beside the source tree)
#include <chrono>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "core/subprocess.h"
#include "jobs/task.h"

using namespace t2;
using namespace t2::tasks;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs a Python script that prints the seconds its own timed section took.
double python_seconds(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions o;
  o.timeout = Seconds(600);
  auto r = run_subprocess(argv, o);
  if (!r.ok()) throw std::runtime_error("python reference failed: " + r.err);
  return std::stod(r.out);
}

const char* kGsm8kPython = R"PY(
import json, re, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
t0 = time.perf_counter()
correct = 0
for r in recs:
    out = r["answer"]
    pred = re.findall(r"\d*\.?\d+", out)
    gold = re.findall(r"\d*\.?\d+", r["answer"].split("####")[-1])
    if pred and gold and float(pred[-1]) == int(float(gold[-1])):
        correct += 1
assert correct == len(recs)
print(time.perf_counter() - t0)
)PY";

const char* kHumanEvalPython = R"PY(
import gzip, json, subprocess, sys, time, tempfile
from concurrent.futures import ThreadPoolExecutor
probs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt")]
def run(p):
    prog = p["prompt"] + p["canonical_solution"] + "\n" + p["test"] + "\ncheck(" + p["entry_point"] + ")\n"
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-c", prog], cwd=d, timeout=20, capture_output=True, stdin=subprocess.DEVNULL)
    return r.returncode == 0
t0 = time.perf_counter()
with ThreadPoolExecutor(2) as ex:
    ok = sum(ex.map(run, probs))
assert ok == len(probs), ok
print(time.perf_counter() - t0)
)PY";

}  // namespace

int main(int argc, char** argv) {
  std::string root;
  if (argc > 1) root = argv[1];
  else if (const char* e = std::getenv("T2_DATA_DIR")) root = e;
  else root = std::string(T2_BENCH_SOURCE_DIR) + "/../shared";
  TaskOptions opt;
  opt.data_root = root;
  try {
    // 1. GSM8K scoring
    auto gsm = make_task("gsm8k", opt);
    auto ex = gsm->load("test");
    std::vector<std::string> gold;
    for (auto& e : ex) gold.push_back(e.gold["solution"].get<std::string>());
    double best = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      auto v = score_batch(*gsm, ex, gold, 1);
      best = std::min(best, seconds_since(t0));
      size_t ok = 0;
      for (auto& x : v) ok += x.correct;
      if (ok != ex.size()) throw std::runtime_error("GSM8K gold answers did not all score correct");
    }
    double py = 1e9;
    for (int rep = 0; rep < 3; ++rep) py = std::min(py, python_seconds(kGsm8kPython, {root + "/data/gsm8k/test.jsonl"}));
    std::cout << fmt::format("gsm8k test scoring ({} responses): t2 {:.4f} s, python regex reference {:.4f} s, "
                             "ratio t2/python {:.2f}\n",
                             ex.size(), best, py, best / py);

    // 2. HumanEval canonical solutions in the sandbox
    auto he = make_task("humaneval", opt);
    auto hex = he->load("test");
    std::vector<std::string> canon;
    for (auto& e : hex)
      canon.push_back(e.gold["reference"].get<std::string>().substr(e.gold["prompt"].get<std::string>().size()));
    auto t0 = std::chrono::steady_clock::now();
    auto v = score_batch(*he, hex, canon, 2);
    double t2_s = seconds_since(t0);
    size_t ok = 0;
    for (auto& x : v) ok += x.correct;
    double py_s = python_seconds(kHumanEvalPython, {root + "/data/humaneval/HumanEval.jsonl.gz"});
    std::cout << fmt::format("humaneval canonical ({} programs, {} passed, pool of 2): t2 sandbox {:.2f} s "
                             "({:.1f} programs/s), python subprocess reference (no isolation) {:.2f} s "
                             "({:.1f} programs/s), ratio t2/python {:.2f}\n",
                             hex.size(), ok, t2_s, double(hex.size()) / t2_s, py_s, double(hex.size()) / py_s,
                             t2_s / py_s);
    std::cout << "sandbox isolation: " << probe_sandbox_support(opt.sandbox).describe() << "\n";
    TaskOptions ropt = opt;
    ropt.sandbox.isolation = SandboxIsolation::rlimits;
    auto her = make_task("humaneval", ropt);
    t0 = std::chrono::steady_clock::now();
    auto vr = score_batch(*her, hex, canon, 2);
    double r_s = seconds_since(t0);
    size_t rok = 0;
    for (auto& x : vr) rok += x.correct;
    std::cout << fmt::format("humaneval canonical with isolation: rlimits ({} passed): {:.2f} s ({:.1f} programs/s)\n",
                             rok, r_s, double(hex.size()) / r_s);
  } catch (const std::exception& e) {
    std::cerr << "t2_bench_tasks: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
