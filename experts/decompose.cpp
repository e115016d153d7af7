#include "experts/decompose.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/check.h"
#include "core/files.h"
#include "experts/svf-decompose.h"
#include "results/hdf5-file.h"
#include "workers/safetensors.h"

namespace t2 {

namespace {

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  auto p = static_cast<const uint8_t*>(data);
  // Eight bytes per round: a 64-bit FNV-1a over words (fast enough for tens of GB once).
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

std::string hex16(uint64_t h) { return fmt::format("{:016x}", h); }

std::string part_path(const std::string& out, size_t i) { return fmt::format("{}/parts/{}.h5", out, i); }

}  // namespace

std::vector<std::string> adapted_weight_names(const Checkpoint& ck, const std::string& modules,
                                              const std::vector<int64_t>& layers) {
  // attn = q and v (the paper's attention ablation); attn_qkvo = all four attention projections;
  // all = mlp + q, v; all_qkvo = mlp + q, k, v, o
  static const std::vector<std::string> valid{"mlp", "attn", "attn_qkvo", "all", "all_qkvo"};
  T2_CHECK_AS(UsageError, std::find(valid.begin(), valid.end(), modules) != valid.end(),
              "--modules: unknown '{}' (valid: mlp, attn (q, v), attn_qkvo (q, k, v, o), all (mlp + q, v), all_qkvo)",
              modules);
  const bool want_mlp = modules == "mlp" || modules.rfind("all", 0) == 0, want_attn = modules != "mlp";
  const bool want_ko = modules.find("qkvo") != std::string::npos;
  static const std::regex re(R"(^model\.layers\.(\d+)\.(mlp|self_attn)\.(gate|up|down|q|k|v|o)_proj\.weight$)");
  const std::vector<std::string> order{"q", "k", "v", "o", "gate", "up", "down"};
  std::vector<std::tuple<int64_t, size_t, std::string>> found;
  std::set<int64_t> seen_layers;
  for (auto& n : ck.names()) {
    std::smatch m;
    if (!std::regex_match(n, m, re)) continue;
    bool is_mlp = m[2] == "mlp";
    if ((is_mlp && !want_mlp) || (!is_mlp && !want_attn)) continue;
    if (!is_mlp && !want_ko && (m[3] == "k" || m[3] == "o")) continue;
    size_t pos = std::find(order.begin(), order.end(), m[3].str()) - order.begin();
    const int64_t layer = std::stoll(m[1]);
    seen_layers.insert(layer);
    if (!layers.empty() && std::find(layers.begin(), layers.end(), layer) == layers.end()) continue;
    found.emplace_back(layer, pos, n);
  }
  for (int64_t l : layers)
    T2_CHECK_AS(UsageError, seen_layers.count(l) != 0, "--layers: the model has no decoder layer {} (it has {})", l,
                seen_layers.size());
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(std::get<2>(f));
  T2_CHECK_AS(UsageError, !names.empty(), "{}: no '{}' weights named model.layers.N.(mlp|self_attn).*_proj.weight",
              ck.source(), modules);
  return names;
}

std::string linear_kind_of(const std::string& n) {
  return (n.find("o_proj") != std::string::npos || n.find("down_proj") != std::string::npos) ? "row" : "column";
}

std::string tensor_hash(const Checkpoint& ck, const std::string& name) {
  const auto& info = ck.info(name);
  uint64_t h = fnv1a(kFnvBasis, name.data(), name.size());
  auto dt = static_cast<uint8_t>(info.dtype);
  h = fnv1a(h, &dt, 1);
  h = fnv1a(h, info.shape.data(), info.shape.size() * sizeof(int64_t));
  h = fnv1a(h, ck.data(name), info.end - info.begin);
  return hex16(h);
}

std::string source_hash(const Checkpoint& ck, const std::vector<std::string>& names) {
  uint64_t h = kFnvBasis;
  for (auto& n : names) {
    auto t = tensor_hash(ck, n);
    h = fnv1a(h, t.data(), t.size());
  }
  return hex16(h);
}

std::string svd_shard_path(const std::string& out, int r, int n) { return fmt::format("{}/svd-tp{}of{}.h5", out, r, n); }

DecomposeReport decompose_model(const std::string& model_dir, const DecomposeOptions& opt) {
  T2_CHECK_AS(UsageError, opt.tp >= 1, "--tp must be >= 1, got {}", opt.tp);
  T2_CHECK_AS(UsageError, opt.threads >= 1, "--threads must be >= 1, got {}", opt.threads);
  auto ck = Checkpoint::open(model_dir);
  auto names = adapted_weight_names(ck, opt.modules, opt.layers);
  DecomposeReport rep;
  rep.out_dir = opt.out_dir.empty() ? model_dir + "/t2-svd" : opt.out_dir;
  make_dirs(rep.out_dir + "/parts");
  std::vector<std::string> hashes;
  for (auto& n : names) hashes.push_back(tensor_hash(ck, n));
  uint64_t h = kFnvBasis;
  for (auto& t : hashes) h = fnv1a(h, t.data(), t.size());
  rep.source_hash = hex16(h);

  // Finished shard files: reuse on a matching hash, refuse on a different one.
  bool all_shards = true;
  for (int r = 0; r < opt.tp; ++r) {
    auto p = svd_shard_path(rep.out_dir, r, opt.tp);
    if (!path_exists(p)) {
      all_shards = false;
      continue;
    }
    auto f = h5::File::open(p);
    auto got = f.attr_string_or("source_hash", "");
    T2_CHECK_AS(UsageError, got == rep.source_hash && f.attr_string_or("modules", "") == opt.modules,
                "{} holds factors of source hash {} (modules '{}') but {} hashes to {} (modules '{}'): remove it or "
                "choose another --out",
                p, got, f.attr_string_or("modules", ""), model_dir, rep.source_hash, opt.modules);
  }
  if (all_shards) {
    rep.reused = true;
    for (int r = 0; r < opt.tp; ++r) rep.files.push_back(svd_shard_path(rep.out_dir, r, opt.tp));
    for (auto& n : names) rep.matrices.push_back({n, 0, 0, 0, true});
    return rep;
  }

  // Matrix by matrix into parts/ (each atomic), in parallel over threads and ranks.
  for (auto& n : names) rep.matrices.push_back({n, ck.info(n).shape[0], ck.info(n).shape[1], 0, false});
  std::mutex h5_mutex;  // serial HDF5: one thread in the library at a time
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  auto work = [&] {
    at::set_num_threads(1);
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= names.size()) return;
      const auto& n = names[i];
      const auto& info = ck.info(n);
      MatrixTiming t{n, info.shape[0], info.shape[1], 0, false};
      auto pp = part_path(rep.out_dir, i);
      const bool mine = static_cast<int>(i % opt.world) == opt.rank;
      {
        std::lock_guard<std::mutex> lk(h5_mutex);
        if (!mine) {
          rep.matrices[i].reused = path_exists(pp);
          continue;
        }
        if (path_exists(pp)) {
          auto f = h5::File::open(pp);
          auto got = f.attr_string_or("source_hash", "");
          T2_CHECK_AS(UsageError, got == hashes[i] && f.attr_int_or("fp64", 0) == (opt.fp64 ? 1 : 0),
                      "{} was computed from tensor hash {} but {} now hashes to {}: remove {}/parts or choose another "
                      "--out", pp, got, n, hashes[i], rep.out_dir);
          t.reused = true;
          rep.matrices[i] = t;
          continue;
        }
      }
      auto t0 = std::chrono::steady_clock::now();
      auto data = ck.read_f32(n);
      auto W = torch::from_blob(data.data(), {info.shape[0], info.shape[1]}, torch::kFloat32);
      auto f = svf_decompose(W, opt.fp64);
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      {
        std::lock_guard<std::mutex> lk(h5_mutex);
        auto out = h5::File::create_atomic(pp);
        out.set_attr("name", n);
        out.set_attr("source_hash", hashes[i]);
        out.set_attr("fp64", int64_t{opt.fp64 ? 1 : 0});
        auto put = [&](const char* key, const torch::Tensor& x) {
          auto c = x.contiguous();
          h5::Shape s;
          for (auto d : c.sizes()) s.push_back(static_cast<uint64_t>(d));
          if (opt.fp64) out.write(key, c.data_ptr<double>(), s);
          else out.write(key, c.data_ptr<float>(), s);
        };
        put("U", f.U);
        put("S", f.S);
        put("V", f.V);
        out.commit();
      }
      rep.matrices[i] = t;
    }
  };
  std::vector<std::thread> pool;
  std::mutex fail_mutex;
  for (int k = 0; k < opt.threads; ++k)
    pool.emplace_back([&] {
      try {
        work();
      } catch (...) {
        std::lock_guard<std::mutex> lk(fail_mutex);
        if (!failure) failure = std::current_exception();
        next.store(names.size());
      }
    });
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);

  if (!opt.assemble) return rep;
  for (size_t i = 0; i < names.size(); ++i)
    if (!path_exists(part_path(rep.out_dir, i))) return rep;  // other ranks still working

  // Assemble the shard files from the parts.
  for (int r = 0; r < opt.tp; ++r) {
    auto out = h5::File::create_atomic(svd_shard_path(rep.out_dir, r, opt.tp));
    out.set_attr("format", "t2-svd");
    out.set_attr("version", int64_t{1});
    out.set_attr("source_hash", rep.source_hash);
    out.set_attr("modules", opt.modules);
    out.set_attr("tp_rank", int64_t{r});
    out.set_attr("tp_size", int64_t{opt.tp});
    out.set_attr("dtype", opt.fp64 ? "float64" : "float32");
    out.write_strings("names", names);
    std::vector<std::string> kinds;
    for (auto& n : names) kinds.push_back(linear_kind_of(n));
    out.write_strings("kinds", kinds);
    for (size_t i = 0; i < names.size(); ++i) {
      auto part = h5::File::open(part_path(rep.out_dir, i));
      auto g = out.create_group("m/" + names[i]);
      g.set_attr("source_hash", hashes[i]);
      auto U = part.read<double>("U"), S = part.read<double>("S"), V = part.read<double>("V");
      g.set_attr("rows", static_cast<int64_t>(U.shape[0]));
      g.set_attr("cols", static_cast<int64_t>(V.shape[0]));
      auto shard_rows = [&](h5::Array<double>& a, const char* what) {
        const uint64_t rows = a.shape[0], k = a.shape[1];
        T2_CHECK_AS(UsageError, rows % opt.tp == 0, "{}: {} has {} rows, not divisible by --tp {}", names[i], what, rows,
                    opt.tp);
        const uint64_t per = rows / opt.tp;
        std::vector<double> v(a.data.begin() + r * per * k, a.data.begin() + (r + 1) * per * k);
        return std::make_pair(v, h5::Shape{per, k});
      };
      auto write = [&](const char* key, const std::vector<double>& v, const h5::Shape& s) {
        if (opt.fp64) {
          g.write(key, v.data(), s);
        } else {
          std::vector<float> f(v.begin(), v.end());
          g.write(key, f.data(), s);
        }
      };
      bool column = linear_kind_of(names[i]) == "column";
      if (opt.tp > 1 && column) {
        auto [u, s] = shard_rows(U, "U");
        write("U", u, s);
      } else {
        write("U", U.data, U.shape);
      }
      write("S", S.data, S.shape);
      if (opt.tp > 1 && !column) {
        auto [v, s] = shard_rows(V, "V");
        write("V", v, s);
      } else {
        write("V", V.data, V.shape);
      }
    }
    out.commit();
    rep.files.push_back(svd_shard_path(rep.out_dir, r, opt.tp));
  }
  std::error_code ec;
  std::filesystem::remove_all(rep.out_dir + "/parts", ec);
  return rep;
}

}  // namespace t2
