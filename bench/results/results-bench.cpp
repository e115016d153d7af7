// Results store throughput, against h5py doing the same writes in the same run:
//   1. per-example records appended as evaluation batches (one crash-safe unit per batch);
//   2. training checkpoints of a Llama3-70B SVF expert (z of 1,966,080 floats, METHOD.md §3.6)
//      with its two Adam moments: 3 x 1,966,080 floats = 23.6 MB per checkpoint, plus the curve.
// Every unit is a temporary file, fsynced, renamed into place, directory fsynced.
//   t2_results_bench [N_RECORDS=100000] [BATCH=1000] [N_CHECKPOINTS=1000] [DIR=$TMPDIR]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/subprocess.h"
#include "results/run-store.h"

using namespace t2;
using namespace t2::results;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const int64_t n_records = argc > 1 ? std::atoll(argv[1]) : 100000;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 1000;
  const int64_t n_ckpt = argc > 3 ? std::atoll(argv[3]) : 1000;
  const std::string base = argc > 4 ? argv[4] : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const int64_t state_floats = 1966080;
  const std::string dir = fmt::format("{}/t2-results-bench-{}", base, ::getpid());
  fs::remove_all(dir);
  using clk = std::chrono::steady_clock;
  try {
    RunMeta meta;
    meta.name = "bench";
    auto store = RunStore::open_for_write(dir + "/t2", meta);
    const std::string eval = "evaluate/bench/gsm8k/svf/seed0";
    store.begin_job({eval, "evaluate", {}});
    auto t0 = clk::now();
    for (int64_t b = 0; b < n_records / batch; ++b) {
      EvalBatch eb{b, b * batch, {}};
      eb.records.reserve(static_cast<size_t>(batch));
      for (int64_t i = b * batch; i < (b + 1) * batch; ++i)
        eb.records.push_back({"gsm8k/test/" + std::to_string(i), i, fmt::format("{:016x}", uint64_t(i) * 2654435761u),
                              fmt::format("The answer is {} because ...", i), std::to_string(i), std::to_string(i),
                              i % 3 == 0 ? 1.0 : 0.0, "gsm8k", i % 500, i % 300});
      store.write_eval_batch(eval, eb);
    }
    double t_records = std::chrono::duration<double>(clk::now() - t0).count();

    const std::string train = "train-expert/bench/gsm8k";
    store.begin_job({train, "train-expert", {}});
    std::mt19937 g(0);
    std::normal_distribution<float> nd;
    CheckpointState s;
    for (const char* k : {"z", "adam_m", "adam_v"}) {
      auto& v = s.floats[k];
      v.resize(static_cast<size_t>(state_floats));
      for (auto& x : v) x = nd(g);
    }
    s.bytes["rng"] = std::vector<uint8_t>(5000, 7);   // an mt19937 state is ~5 kB
    t0 = clk::now();
    for (int64_t step = 1; step <= n_ckpt; ++step) {
      s.step = step;
      s.curve.points.push_back({step, 0.5, 0.1, 0.2, 0.01, 1.0, 0.5});
      store.write_checkpoint(train, s);
    }
    double t_ckpt = std::chrono::duration<double>(clk::now() - t0).count();

    SubprocessOptions o;
    o.timeout = Seconds(3600);
    auto py = run_subprocess({"/usr/bin/python3", T2_BENCH_SCRIPT, dir + "/h5py", std::to_string(n_records),
                              std::to_string(batch), std::to_string(n_ckpt), std::to_string(state_floats)},
                             o);
    fs::remove_all(dir);
    const double mb = 3.0 * state_floats * 4 / 1e6;
    fmt::print("records:     {} in batches of {}: t2 {:.0f} records/s ({:.1f} ms per batch unit)\n", n_records, batch,
               n_records / t_records, 1e3 * t_records / (n_records / batch));
    fmt::print("checkpoints: {} of 3 x {} floats ({:.1f} MB): t2 {:.1f} ms per checkpoint ({:.0f} MB/s)\n", n_ckpt,
               state_floats, mb, 1e3 * t_ckpt / n_ckpt, mb * n_ckpt / t_ckpt);
    if (!py.ok()) {
      fmt::print("h5py reference failed: {}\n{}\n", py.describe(), py.err);
      return 1;
    }
    double py_records = 0, py_ckpt = 0;
    std::sscanf(py.out.c_str(), "%lf %lf", &py_records, &py_ckpt);
    fmt::print("h5py:        {:.0f} records/s, {:.1f} ms per checkpoint\n", n_records / py_records, 1e3 * py_ckpt / n_ckpt);
    fmt::print("ratio t2/h5py: records/s x{:.2f}, checkpoint time x{:.2f} (below 1 is faster)\n",
               py_records / t_records, t_ckpt / py_ckpt);
    return 0;
  } catch (const Error& e) {
    fs::remove_all(dir);
    std::fprintf(stderr, "t2_results_bench: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
