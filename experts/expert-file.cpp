#include "experts/expert-file.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "core/check.h"
#include "results/hdf5-file.h"

namespace t2 {

namespace {
const char* kCurveFields[] = {"step", "reward_mean", "reward_std", "loss", "kl", "grad_norm", "lr", "validation"};

double field(const TrainingPoint& p, int i) {
  switch (i) {
    case 0: return static_cast<double>(p.step);
    case 1: return p.reward_mean;
    case 2: return p.reward_std;
    case 3: return p.loss;
    case 4: return p.kl;
    case 5: return p.grad_norm;
    case 6: return p.lr;
    default: return p.validation;
  }
}

void set_field(TrainingPoint& p, int i, double v) {
  switch (i) {
    case 0: p.step = static_cast<int64_t>(v); break;
    case 1: p.reward_mean = v; break;
    case 2: p.reward_std = v; break;
    case 3: p.loss = v; break;
    case 4: p.kl = v; break;
    case 5: p.grad_norm = v; break;
    case 6: p.lr = v; break;
    default: p.validation = v; break;
  }
}
}  // namespace

void expert_write(const std::string& path, const Expert& e) {
  T2_CHECK(static_cast<int64_t>(e.z.size()) == e.layout.total(), "expert for {}: z has {} entries, the layout {}",
           path, e.z.size(), e.layout.total());
  auto f = h5::File::create_atomic(path);
  f.set_attr("format", "t2-expert");
  f.set_attr("version", int64_t{1});
  f.set_attr("base_model", e.base_model);
  f.set_attr("base_model_hash", e.base_model_hash);
  f.set_attr("task", e.task);
  f.set_attr("method", e.method);
  f.set_attr("config", e.config);
  f.set_attr("best_validation", e.best_validation);
  f.set_attr("best_step", e.best_step);
  auto m = f.create_group("matrices");
  m.write_strings("names", e.layout.names);
  m.write("sizes", e.layout.sizes);
  auto z = f.create_group("z");
  for (size_t i = 0; i < e.layout.names.size(); ++i)
    z.write(e.layout.names[i], e.z.data() + e.layout.offset(i), {static_cast<uint64_t>(e.layout.sizes[i])});
  auto c = f.create_group("curve");
  for (int k = 0; k < 8; ++k) {
    std::vector<double> col;
    for (auto& p : e.curve) col.push_back(field(p, k));
    c.write(kCurveFields[k], col);
  }
  f.commit();
}

Expert expert_read(const std::string& path) {
  auto f = h5::File::open(path);
  T2_CHECK_AS(FormatError, f.attr_string_or("format", "") == "t2-expert",
              "{}: not a t2 expert file (attribute 'format' is '{}', expected 't2-expert')", path,
              f.attr_string_or("format", ""));
  auto version = f.attr_int_or("version", 0);
  T2_CHECK_AS(FormatError, version == 1, "{}: expert file version {} is not supported (expected 1)", path, version);
  Expert e;
  e.base_model = f.attr_string_or("base_model", "");
  e.base_model_hash = f.attr_string_or("base_model_hash", "");
  e.task = f.attr_string_or("task", "");
  e.method = f.attr_string_or("method", "");
  e.config = f.attr_string_or("config", "");
  e.best_validation = f.attr_double_or("best_validation", 0);
  e.best_step = f.attr_int_or("best_step", -1);
  auto m = f.open_group("matrices");
  e.layout.names = m.read_strings("names");
  e.layout.sizes = m.read_vector<int64_t>("sizes");
  T2_CHECK_AS(FormatError, e.layout.names.size() == e.layout.sizes.size(),
              "{}:/matrices: {} names but {} sizes", path, e.layout.names.size(), e.layout.sizes.size());
  auto z = f.open_group("z");
  for (size_t i = 0; i < e.layout.names.size(); ++i) {
    const auto& n = e.layout.names[i];
    T2_CHECK_AS(FormatError, z.has(n), "{}:/z/{} is missing (listed in /matrices/names)", path, n);
    auto v = z.read_vector<float>(n);
    T2_CHECK_AS(FormatError, static_cast<int64_t>(v.size()) == e.layout.sizes[i],
                "{}:/z/{} has {} entries, /matrices/sizes says {}", path, n, v.size(), e.layout.sizes[i]);
    e.z.insert(e.z.end(), v.begin(), v.end());
  }
  if (f.has("curve")) {
    auto c = f.open_group("curve");
    std::vector<std::vector<double>> cols;
    for (auto* name : kCurveFields) cols.push_back(c.has(name) ? c.read_vector<double>(name) : std::vector<double>{});
    for (size_t r = 0; r < cols[0].size(); ++r) {
      TrainingPoint p;
      for (int k = 0; k < 8; ++k) {
        T2_CHECK_AS(FormatError, cols[k].size() == cols[0].size(), "{}:/curve/{} has {} rows, /curve/step {}", path,
                    kCurveFields[k], cols[k].size(), cols[0].size());
        set_field(p, k, cols[k][r]);
      }
      e.curve.push_back(p);
    }
  }
  return e;
}

void expert_check_compatible(const Expert& e, const std::string& path, const ZLayout& model, const std::string& hash) {
  T2_CHECK_AS(UsageError, e.layout.names.size() == model.names.size(),
              "{}: the expert adapts {} matrices, the model has {} adapted matrices", path, e.layout.names.size(),
              model.names.size());
  for (size_t i = 0; i < model.names.size(); ++i) {
    T2_CHECK_AS(UsageError, e.layout.names[i] == model.names[i], "{}: matrix {} is '{}' in the expert but '{}' in the model",
                path, i, e.layout.names[i], model.names[i]);
    T2_CHECK_AS(UsageError, e.layout.sizes[i] == model.sizes[i], "{}: matrix '{}' has rank {} in the expert, {} in the model",
                path, model.names[i], e.layout.sizes[i], model.sizes[i]);
  }
  T2_CHECK_AS(UsageError, hash.empty() || e.base_model_hash == hash,
              "{}: trained on base model hash {} but this model's hash is {}", path, e.base_model_hash, hash);
}

namespace {
struct Stats {
  double mean = 0, min = 0, max = 0, norm = 0;
};
Stats stats(const float* z, int64_t n) {
  Stats s;
  if (n == 0) return s;
  s.min = s.max = z[0];
  for (int64_t i = 0; i < n; ++i) {
    s.mean += z[i];
    s.min = std::min<double>(s.min, z[i]);
    s.max = std::max<double>(s.max, z[i]);
    s.norm += static_cast<double>(z[i]) * z[i];
  }
  s.mean /= static_cast<double>(n);
  s.norm = std::sqrt(s.norm);
  return s;
}
}  // namespace

std::string expert_summary_line(const std::string& path, const Expert& e) {
  return fmt::format("{}\ttask={}\tmethod={}\tmatrices={}\tparams={}\tbest_validation={:.4f}\tbase={}", path, e.task,
                     e.method, e.layout.names.size(), e.layout.total(), e.best_validation, e.base_model_hash);
}

std::string expert_show(const std::string& path, const Expert& e) {
  std::ostringstream os;
  os << "expert: " << path << "\n"
     << "  task: " << e.task << "\n  method: " << e.method << "\n  base model: " << e.base_model
     << "\n  base model hash: " << e.base_model_hash << "\n  matrices: " << e.layout.names.size()
     << "\n  parameters: " << e.layout.total() << "\n"
     << fmt::format("  best validation: {:.4f} at step {}\n", e.best_validation, e.best_step)
     << "  training steps logged: " << e.curve.size() << "\n";
  os << "  matrix                                   rank      mean       min       max      norm\n";
  for (size_t i = 0; i < e.layout.names.size(); ++i) {
    auto s = stats(e.z.data() + e.layout.offset(i), e.layout.sizes[i]);
    os << fmt::format("  {:<40} {:>5} {:>9.5f} {:>9.5f} {:>9.5f} {:>9.5f}\n", e.layout.names[i], e.layout.sizes[i],
                      s.mean, s.min, s.max, s.norm);
  }
  if (!e.config.empty()) os << "  config:\n" << e.config << (e.config.back() == '\n' ? "" : "\n");
  return os.str();
}

std::string expert_diff(const std::string& ap, const Expert& a, const std::string& bp, const Expert& b) {
  std::ostringstream os;
  os << "diff " << ap << " " << bp << "\n";
  if (a.base_model_hash != b.base_model_hash)
    os << "  base model hash: " << a.base_model_hash << " vs " << b.base_model_hash << "\n";
  if (a.task != b.task) os << "  task: " << a.task << " vs " << b.task << "\n";
  if (!(a.layout == b.layout)) {
    os << "  matrix layouts differ (" << a.layout.names.size() << " vs " << b.layout.names.size()
       << " matrices): z not compared\n";
    return os.str();
  }
  os << "  matrix                                   max|dz|    rms dz   max|dm|\n";
  double total_sq = 0;
  for (size_t i = 0; i < a.layout.names.size(); ++i) {
    const float* za = a.z.data() + a.layout.offset(i);
    const float* zb = b.z.data() + b.layout.offset(i);
    double mx = 0, sq = 0, mm = 0;
    for (int64_t j = 0; j < a.layout.sizes[i]; ++j) {
      double d = static_cast<double>(za[j]) - zb[j];
      mx = std::max(mx, std::abs(d));
      sq += d * d;
      double ma = 1 / (1 + std::exp(-static_cast<double>(za[j]))), mb = 1 / (1 + std::exp(-static_cast<double>(zb[j])));
      mm = std::max(mm, std::abs(ma - mb));
    }
    total_sq += sq;
    os << fmt::format("  {:<40} {:>9.6f} {:>9.6f} {:>9.6f}\n", a.layout.names[i], mx,
                      std::sqrt(sq / std::max<int64_t>(1, a.layout.sizes[i])), mm);
  }
  os << fmt::format("  total |dz|: {:.6f}\n", std::sqrt(total_sq));
  return os.str();
}

}  // namespace t2
