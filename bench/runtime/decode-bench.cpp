// Decode benchmark: t2's batch-1 and batch-16 decode step against the memory-bandwidth floor, the
// compute floor and a plain-C reference decoder (bench/runtime/ref-decode.c) on the same random
// checkpoint, written in both layouts (HF safetensors + config.json for t2, T2REFDEC for the C decoder).
//
//   t2_decode_bench [--model DIR] [--rounds 3] [--tokens 48] [--batches 1,16] [--t2 BIN] [--ref BIN]
//
// Without --model, a random llama2.c-110M-shaped checkpoint (dim 768, 12 layers, 12 heads, ffn 2048,
// vocab 32000, tied, fp32) is written by tests/workers/fixtures/make_fixture.py. Every measurement runs
// in its own process with one thread (OMP/OpenBLAS/MKL = 1), t2 and the C decoder alternating within
// each round; the table gives medians over rounds. Per-token time: steps 3..N of a greedy decode from a
// one-token prompt (row b starts from id 1 + b), measured inside the process. Start-up: wall time of
// `t2 generate DIR --prompt-ids 1 --max-new-tokens 1` (and `ref-decode FILE 1 1`), process start to exit.
// Peak memory: maximum resident set of those processes decoding the batch-1 run (ru_maxrss).
//
// Floors: bandwidth = weight bytes / single-core copy bandwidth (memcpy of a buffer the size of the
// weights, bytes copied per second: the time to stream the weights once through one core); compute =
// 2 * matmul parameters * batch / single-core sgemm FLOP/s (a 1024^3 torch::mm, i.e. OpenBLAS). A copy
// also writes every byte it reads, so one core reads faster than it copies: the stricter read floor is
// weight bytes / the rate at which one core sums the mapped checkpoint file (t2 serves fp32 weights
// from exactly those pages), printed beside it.
// Start-up is held against 0.3 s + the time to read the checkpoint once (read(2), page cache warm);
// peak memory against the weights + the batch-1 run's KV cache, and beside it the peak of the t2
// process without a model (`t2 --version`: LibTorch and the shared libraries it loads).
// Times are given both by wall clock and by process CPU time: on a shared machine with more runnable
// processes than cores, wall time mostly measures waiting for a core, CPU time does not.
//
// `--child t2 --model DIR --batch B --tokens N` is the per-process t2 measurement (one JSON line).
// `--profile --model DIR --batch B --tokens N` prints a per-op profile of t2's decode steps (the LibTorch
// profiler: self time per op and input shapes, allocations per step), as quoted in docs/runtime.md.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <immintrin.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/subprocess.h"
#include "workers/model.h"
#include "workers/safetensors.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string arg(int argc, char** argv, const std::string& name, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return dflt;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU time of this process: on a shared, oversubscribed machine it leaves out the time the process
// waited for a core, which wall time does not (memory-bus contention still shows in both).
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

const std::map<std::string, std::string>& one_thread() {
  static const std::map<std::string, std::string> env = {
      {"OMP_NUM_THREADS", "1"}, {"OPENBLAS_NUM_THREADS", "1"}, {"MKL_NUM_THREADS", "1"}};
  return env;
}

// ---------------------------------------------------------------- child: t2 in its own process

int child_t2(const std::string& model, int B, int N) {
  torch::set_num_threads(1);
  auto m = t2::Model::load(model, {});
  std::vector<std::vector<int32_t>> prompts;
  for (int b = 0; b < B; ++b) prompts.push_back({static_cast<int32_t>((1 + b) % m->config().vocab_size)});
  t2::GenerateOptions go;
  go.use_config_eos = false;
  go.max_new_tokens = 2;
  m->generate(prompts, go);  // warm-up: allocator, first touch of the weights
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  m->generate(prompts, go);
  const double t2tok = seconds_since(t0), c2tok = cpu_seconds() - c0;
  go.max_new_tokens = N;
  t0 = Clock::now();
  c0 = cpu_seconds();
  auto gens = m->generate(prompts, go);
  const double tN = seconds_since(t0), cN = cpu_seconds() - c0;
  nlohmann::json j;
  j["per_token_ms"] = 1e3 * (tN - t2tok) / (N - 2);
  j["per_token_cpu_ms"] = 1e3 * (cN - c2tok) / (N - 2);
  j["ids"] = gens[0].ids;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

// ---------------------------------------------------------------- per-op profile of decode steps

int profile_t2(const std::string& model, int B, int N) {
  namespace prof = torch::autograd::profiler;
  torch::set_num_threads(1);
  auto m = t2::Model::load(model, {});
  std::vector<std::vector<int32_t>> prompts;
  for (int b = 0; b < B; ++b) prompts.push_back({static_cast<int32_t>((1 + b) % m->config().vocab_size)});
  t2::GenerateOptions go;
  go.use_config_eos = false;
  go.max_new_tokens = N;
  m->generate(prompts, go);  // warm-up
  // profile N tokens and 1 token; their difference is N-1 decode steps
  auto profile = [&](int tokens) {
    go.max_new_tokens = tokens;
    torch::profiler::impl::ProfilerConfig cfg(torch::profiler::impl::ProfilerState::CPU, /*shapes=*/true,
                                              /*memory=*/true);
    prof::enableProfilerLegacy(cfg);
    auto t0 = Clock::now();
    m->generate(prompts, go);
    const double wall = seconds_since(t0);
    auto lists = prof::disableProfilerLegacy();
    struct Agg {
      double self_us = 0;
      int64_t calls = 0;
    };
    std::map<std::string, Agg> agg;
    int64_t allocs = 0;
    double alloc_bytes = 0;
    for (auto& events : lists) {
      struct Open {
        const prof::LegacyEvent* e;
        double child_us;
      };
      std::vector<Open> stack;
      for (auto& e : events) {
        if (e.kindStr() == std::string("push")) {
          stack.push_back({&e, 0});
        } else if (e.kindStr() == std::string("pop") && !stack.empty()) {
          Open o = stack.back();
          stack.pop_back();
          const double us = o.e->cpuElapsedUs(e);
          std::string key = o.e->name();
          std::string shapes;
          for (const auto& sh : o.e->shapes()) {
            if (sh.empty()) continue;
            shapes += shapes.empty() ? "" : " ";
            shapes += "[";
            for (size_t i = 0; i < sh.size(); ++i) shapes += (i ? "," : "") + std::to_string(sh[i]);
            shapes += "]";
          }
          if (!shapes.empty()) key += " " + shapes;
          agg[key].self_us += us - o.child_us;
          agg[key].calls += 1;
          if (!stack.empty()) stack.back().child_us += us;
        } else if (e.kindStr() == std::string("memory_alloc") && e.cpuMemoryUsage() > 0) {
          allocs += 1;
          alloc_bytes += static_cast<double>(e.cpuMemoryUsage());
        }
      }
    }
    return std::make_tuple(wall, agg, allocs, alloc_bytes);
  };
  auto [wall_n, agg_n, allocs_n, bytes_n] = profile(N);
  auto [wall_1, agg_1, allocs_1, bytes_1] = profile(1);
  const double steps = N - 1;
  std::vector<std::pair<double, std::string>> rows;
  double total = 0;
  for (auto& kv : agg_n) {
    double us = kv.second.self_us - (agg_1.count(kv.first) ? agg_1[kv.first].self_us : 0);
    total += us;
    rows.push_back({us, kv.first});
  }
  std::sort(rows.rbegin(), rows.rend());
  std::printf("batch %d: %.2f ms per decode step under the profiler; ops %.2f ms self time; %.0f allocations "
              "(%.2f MB) per step\n",
              B, 1e3 * (wall_n - wall_1) / steps, total / steps / 1e3, (allocs_n - allocs_1) / steps,
              (bytes_n - bytes_1) / steps / 1e6);
  std::printf("%10s %8s  %s\n", "us/step", "calls", "op [input shapes]");
  for (size_t i = 0; i < rows.size() && i < 30; ++i) {
    const auto& k = rows[i].second;
    const double calls = (agg_n[k].calls - (agg_1.count(k) ? agg_1[k].calls : 0)) / steps;
    std::printf("%10.1f %8.1f  %s\n", rows[i].first / steps, calls, k.c_str());
  }
  return 0;
}

// ---------------------------------------------------------------- measurements in the driver

// Runs argv with one thread; returns stdout, wall seconds and the peak RSS (MiB) of the child.
struct Run {
  std::string out;
  double wall_s = 0;
  double peak_mib = 0;
};

Run run_measured(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) throw t2::Error("pipe failed");
  auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    for (const auto& kv : one_thread()) ::setenv(kv.first.c_str(), kv.second.c_str(), 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  Run r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  r.wall_s = seconds_since(t0);
  r.peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw t2::Error(argv[0] + " failed (status " + std::to_string(status) + ")\n" + r.out);
  return r;
}

// Single-core copy bandwidth: memcpy of `bytes` (median of 5), as bytes copied per second (STREAM
// would count 2x: bytes read + bytes written); {by wall time, by CPU time}.
std::pair<double, double> copy_bandwidth(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 2);
  std::vector<double> bw, bc;
  for (int i = 0; i < 6; ++i) {
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    std::memcpy(i % 2 ? a.data() : b.data(), i % 2 ? b.data() : a.data(), bytes);
    const double s = seconds_since(t0), c = cpu_seconds() - c0;
    if (i > 0) {
      bw.push_back(static_cast<double>(bytes) / s);
      bc.push_back(static_cast<double>(bytes) / c);
    }
  }
  return {median(bw), median(bc)};
}

// Sums every float of the mapped file `path` (its pages already in memory): the rate at which one core
// reads the checkpoint t2 serves in place, i.e. the batch-1 floor without the write half of a copy.
// {bytes read per second by wall time, by CPU time}, median of 5 passes after one warm-up pass.
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  float acc[8];
  _mm256_storeu_ps(acc, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float s = 0;
  for (; i < n; ++i) s += p[i];
  for (float v : acc) s += v;
  return s;
}

std::pair<double, double> read_bandwidth(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw t2::Error("cannot open " + path);
  struct stat st {};
  ::fstat(fd, &st);
  const size_t bytes = static_cast<size_t>(st.st_size) & ~static_cast<size_t>(63);
  void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw t2::Error("cannot map " + path);
  const float* p = static_cast<const float*>(map);
  volatile float sink = 0;
  std::vector<double> bw, bc;
  const bool avx2 = __builtin_cpu_supports("avx2");
  for (int i = 0; i < 6; ++i) {
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    float s = 0;
    if (avx2) {
      s = sum_avx2(p, bytes / 4);
    } else {
      for (size_t k = 0; k < bytes / 4; ++k) s += p[k];
    }
    sink = sink + s;
    const double w = seconds_since(t0), c = cpu_seconds() - c0;
    if (i > 0) {
      bw.push_back(static_cast<double>(bytes) / w);
      bc.push_back(static_cast<double>(bytes) / c);
    }
  }
  ::munmap(map, static_cast<size_t>(st.st_size));
  return {median(bw), median(bc)};
}

// Wall seconds to read `path` once into memory with read(2) (median of 3; the file is in the page
// cache by then, as it is when a campaign starts t2 on a checkpoint it has just used): the "time to
// read the file once" that start-up is allowed on top of its 0.3 s.
double read_once_seconds(const std::string& path) {
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw t2::Error("cannot open " + path);
    std::vector<char> all;
    struct stat st {};
    ::fstat(fd, &st);
    auto t0 = Clock::now();
    all.resize(static_cast<size_t>(st.st_size));
    size_t at = 0;
    ssize_t n;
    while (at < all.size() && (n = ::read(fd, all.data() + at, all.size() - at)) > 0) at += static_cast<size_t>(n);
    t.push_back(seconds_since(t0));
    ::close(fd);
  }
  return median(t);
}

// Single-core sgemm throughput (FLOP/s) of a 1024^3 product; {by wall time, by CPU time}.
std::pair<double, double> gemm_flops() {
  torch::set_num_threads(1);
  torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::mm(a, b);
  std::vector<double> f, fc;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    torch::mm(a, b);
    f.push_back(2.0 * 1024 * 1024 * 1024 / seconds_since(t0));
    fc.push_back(2.0 * 1024 * 1024 * 1024 / (cpu_seconds() - c0));
  }
  return {median(f), median(fc)};
}

// Writes the checkpoint in the C decoder's layout (see ref-decode.c); returns the weight bytes.
void write_ref_layout(const std::string& dir, const std::string& path) {
  t2::Checkpoint ck = t2::Checkpoint::open(dir);
  t2::ModelConfig c = t2::load_model_config(dir);
  std::ofstream f(path, std::ios::binary);
  auto i32 = [&](int32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto f32 = [&](float v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  f.write("T2REFDEC", 8);
  i32(1);
  for (int64_t v : {c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads,
                    c.num_key_value_heads, c.vocab_size, c.max_position_embeddings})
    i32(static_cast<int32_t>(v));
  i32(c.tie_word_embeddings ? 1 : 0);
  f32(static_cast<float>(c.rope_theta));
  f32(static_cast<float>(c.rms_norm_eps));
  auto put = [&](const std::string& name) {
    std::vector<float> v = ck.read_f32(name);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  };
  put("model.embed_tokens.weight");
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* n : {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                          "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                          "mlp.down_proj"})
      put(p + n + ".weight");
  }
  put("model.norm.weight");
  if (!c.tie_word_embeddings) put("lm_head.weight");
  if (!f) throw t2::Error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "--profile")
        return profile_t2(arg(argc, argv, "--model", ""), std::stoi(arg(argc, argv, "--batch", "1")),
                          std::stoi(arg(argc, argv, "--tokens", "16")));
    if (arg(argc, argv, "--child", "") == "t2")
      return child_t2(arg(argc, argv, "--model", ""), std::stoi(arg(argc, argv, "--batch", "1")),
                      std::stoi(arg(argc, argv, "--tokens", "48")));
    const std::string src = T2_SOURCE_DIR, bin = T2_BINARY_DIR;
    const std::string self = "/proc/self/exe";
    std::string self_path(4096, '\0');
    ssize_t n = ::readlink(self.c_str(), self_path.data(), self_path.size() - 1);
    self_path.resize(n > 0 ? static_cast<size_t>(n) : 0);
    std::string model = arg(argc, argv, "--model", "");
    const int rounds = std::stoi(arg(argc, argv, "--rounds", "3"));
    const int N = std::stoi(arg(argc, argv, "--tokens", "48"));
    std::vector<int> batches;
    {
      std::string s = arg(argc, argv, "--batches", "1,16");
      for (size_t p = 0; p < s.size();) {
        size_t q = s.find(',', p);
        batches.push_back(std::stoi(s.substr(p, q == std::string::npos ? std::string::npos : q - p)));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    }
    std::string tmp = "/tmp/t2-decode-bench-" + std::to_string(::getpid());
    if (model.empty()) {
      model = tmp + "/model";
      auto r = t2::run_subprocess({"/usr/bin/python3", src + "/tests/workers/fixtures/make_fixture.py", model,
                                   "--family", "llama", "--hidden", "768", "--layers", "12", "--heads", "12",
                                   "--kv-heads", "12", "--intermediate", "2048", "--vocab", "32000", "--tie",
                                   "--max-pos", "1024", "--seed", "7"},
                                  t2::SubprocessOptions{t2::Seconds(600)});
      if (!r.ok()) throw t2::Error("make_fixture.py: " + r.describe() + "\n" + r.err);
    }
    ::mkdir(tmp.c_str(), 0755);
    const std::string ref_file = tmp + "/model.t2ref";
    write_ref_layout(model, ref_file);
    t2::ModelConfig c = t2::load_model_config(model);
    t2::Checkpoint ck = t2::Checkpoint::open(model);
    double weight_bytes = 0;
    for (const auto& name : ck.names()) weight_bytes += 4.0 * static_cast<double>(ck.info(name).numel());
    const double matmul_params =
        static_cast<double>(c.num_hidden_layers) *
            (static_cast<double>(c.hidden_size) * (c.q_size() + 2 * c.kv_size()) + static_cast<double>(c.q_size()) * c.hidden_size +
             3.0 * static_cast<double>(c.hidden_size) * c.intermediate_size) +
        static_cast<double>(c.vocab_size) * c.hidden_size;
    const auto [bw_wall, bw_cpu] = copy_bandwidth(static_cast<size_t>(weight_bytes));
    const auto [fl_wall, fl_cpu] = gemm_flops();
    const std::string st_file = model + "/model.safetensors";
    const auto [rd_wall, rd_cpu] = read_bandwidth(st_file);
    const double read_once = read_once_seconds(st_file);
    std::printf("model %s: %.1f M parameters, %.1f MB fp32 weights; one thread per process; %d rounds, %d tokens\n",
                model.c_str(), weight_bytes / 4e6, weight_bytes / 1e6, rounds, N);
    std::printf("single-core copy bandwidth %.1f GB/s by wall time, %.1f GB/s by CPU time (bytes copied per second)\n",
                bw_wall / 1e9, bw_cpu / 1e9);
    std::printf("single-core read of the mapped checkpoint %.1f GB/s by wall time, %.1f GB/s by CPU time\n",
                rd_wall / 1e9, rd_cpu / 1e9);
    std::printf("single-core sgemm %.1f GFLOP/s by wall time, %.1f GFLOP/s by CPU time\n", fl_wall / 1e9,
                fl_cpu / 1e9);
    std::printf("reading %s once with read(2): %.3f s\n\n", st_file.c_str(), read_once);
    std::fflush(stdout);

    const std::string t2_cli = arg(argc, argv, "--t2", bin + "/bin/t2");
    const std::string ref = arg(argc, argv, "--ref", bin + "/bench/runtime/t2_ref_decode");
    std::map<int, std::vector<double>> t2_ms, ref_ms, t2_cpu, ref_cpu;
    std::vector<double> t2_start, ref_start, t2_peak, ref_peak, t2_bare, t2_bare_s;
    bool ids_equal = true;
    for (int r = 0; r < rounds; ++r) {
      for (int B : batches) {
        Run a = run_measured({self_path, "--child", "t2", "--model", model, "--batch", std::to_string(B), "--tokens",
                              std::to_string(N)});
        Run b = run_measured({ref, ref_file, std::to_string(B), std::to_string(N)});
        auto ja = nlohmann::json::parse(a.out.substr(a.out.rfind('{'))), jb = nlohmann::json::parse(b.out);
        t2_ms[B].push_back(ja["per_token_ms"].get<double>());
        ref_ms[B].push_back(jb["per_token_ms"].get<double>());
        t2_cpu[B].push_back(ja["per_token_cpu_ms"].get<double>());
        ref_cpu[B].push_back(jb["per_token_cpu_ms"].get<double>());
        if (ja["ids"] != jb["ids"]) ids_equal = false;
        std::printf("  round %d batch %2d: t2 %.2f ms (cpu %.2f), C %.2f ms (cpu %.2f)\n", r, B,
                    t2_ms[B].back(), t2_cpu[B].back(), ref_ms[B].back(), ref_cpu[B].back());
        std::fflush(stdout);
      }
      Run s = run_measured({t2_cli, "generate", model, "--prompt-ids", "1", "--max-new-tokens", "1"});
      Run s2 = run_measured({ref, ref_file, "1", "1"});
      t2_start.push_back(s.wall_s);
      ref_start.push_back(s2.wall_s);
      Run p = run_measured({t2_cli, "generate", model, "--prompt-ids", "1", "--max-new-tokens", std::to_string(N)});
      Run p2 = run_measured({ref, ref_file, "1", std::to_string(N)});
      t2_peak.push_back(p.peak_mib);
      Run bare = run_measured({t2_cli, "--version"});
      t2_bare.push_back(bare.peak_mib);
      t2_bare_s.push_back(bare.wall_s);
      ref_peak.push_back(p2.peak_mib);
    }
    std::printf("\nmedians over %d rounds (wall time | CPU time):\n", rounds);
    std::printf("%-22s %21s %21s %15s\n", "", "t2", "C reference", "t2 / C");
    for (int B : batches) {
      const double a = median(t2_ms[B]), b = median(ref_ms[B]), ac = median(t2_cpu[B]), bc = median(ref_cpu[B]);
      std::printf("%-22s %8.2f | %6.2f ms %8.2f | %6.2f ms %6.2fx | %5.2fx\n",
                  ("decode step, batch " + std::to_string(B)).c_str(), a, ac, b, bc, a / b, ac / bc);
      std::printf("%-22s %8.0f | %6.0f t/s %8.0f | %6.0f t/s\n", "  tokens/s", 1e3 * B / a, 1e3 * B / ac,
                  1e3 * B / b, 1e3 * B / bc);
      const double bw_floor = 1e3 * weight_bytes / bw_wall, bw_floor_c = 1e3 * weight_bytes / bw_cpu;
      const double c_floor = 1e3 * 2 * matmul_params * B / fl_wall, c_floor_c = 1e3 * 2 * matmul_params * B / fl_cpu;
      // the better (lower) floor is the larger of the two lower bounds
      const double fw = std::max(bw_floor, c_floor), fc = std::max(bw_floor_c, c_floor_c);
      const double rd_floor = 1e3 * weight_bytes / rd_wall, rd_floor_c = 1e3 * weight_bytes / rd_cpu;
      std::printf("%-22s bandwidth floor %.2f | %.2f ms, compute floor %.2f | %.2f ms\n", "", bw_floor, bw_floor_c,
                  c_floor, c_floor_c);
      std::printf("%-22s read floor (weights / read rate of the mapped file) %.2f | %.2f ms; against the larger of "
                  "it and the compute floor: t2 %.2fx | %.2fx, C %.2fx | %.2fx\n",
                  "", rd_floor, rd_floor_c, a / std::max(rd_floor, c_floor), ac / std::max(rd_floor_c, c_floor_c),
                  b / std::max(rd_floor, c_floor), bc / std::max(rd_floor_c, c_floor_c));
      std::printf("%-22s t2 / floor %.2fx | %.2fx, C / floor %.2fx | %.2fx\n", "", a / fw, ac / fc, b / fw, bc / fc);
    }
    std::printf("%-22s %14.0f MiB %17.0f MiB %9.2fx   (weights %.0f MiB; t2 / weights %.2fx)\n", "peak RSS, batch 1",
                median(t2_peak), median(ref_peak), median(t2_peak) / median(ref_peak), weight_bytes / 1048576.0,
                median(t2_peak) * 1048576.0 / weight_bytes);
    {
      // KV cache of the batch-1 run: K and V, every layer, prompt + N tokens, fp32
      const double kv_mib = 2.0 * static_cast<double>(c.num_hidden_layers * c.kv_size()) * (1 + N) * 4 / 1048576.0;
      const double w_mib = weight_bytes / 1048576.0, bare = median(t2_bare), peak = median(t2_peak);
      std::printf("%-22s t2 / (weights + KV %.1f MiB) %.2fx (target <= 1.15x); the t2 process without a model "
                  "(`t2 --version`) peaks at %.0f MiB (LibTorch and its shared libraries), so the model adds "
                  "%.0f MiB = %.2fx (weights + KV)\n",
                  "", kv_mib, peak / (w_mib + kv_mib), bare, peak - bare, (peak - bare) / (w_mib + kv_mib));
    }
    std::printf("%-22s %16.3f s %19.3f s %9.2fx\n", "start to first token", median(t2_start), median(ref_start),
                median(t2_start) / median(ref_start));
    std::printf("%-22s t2 %.3f s against 0.3 s + one read of the file (%.3f s) = %.3f s: %s\n", "",
                median(t2_start), read_once, 0.3 + read_once, median(t2_start) <= 0.3 + read_once ? "within" : "OVER");
    std::printf("%-22s of which starting the process without a model (`t2 --version`, LibTorch's static "
                "initialisation) %.3f s, the model and the first token %.3f s\n",
                "", median(t2_bare_s), median(t2_start) - median(t2_bare_s));
    std::printf("greedy ids of row 0 equal (t2 vs C): %s\n", ids_equal ? "yes" : "NO");
    t2::run_subprocess({"rm", "-rf", tmp});
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "t2_decode_bench: %s\n", e.what());
    return 1;
  }
}
