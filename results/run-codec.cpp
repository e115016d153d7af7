#include "results/run-codec.h"

#include <cmath>

#include "core/check.h"

namespace t2::results::codec {
namespace {

void header(h5::File& f, const std::string& kind, const std::string& job_id) {
  f.set_attr("schema_version", schema_version);
  f.set_attr("kind", kind);
  if (!job_id.empty()) f.set_attr("job_id", job_id);
}

std::string first_or_empty(const std::vector<std::string>& v) { return v.empty() ? "" : v[0]; }

void write_items(h5::Group& g, const std::string& name, const std::vector<NamedItem>& items) {
  std::vector<std::string> keys, names;
  for (auto& i : items) {
    keys.push_back(i.key);
    names.push_back(i.display_name.empty() ? i.key : i.display_name);
  }
  g.write_strings(name + "/keys", keys);
  g.write_strings(name + "/names", names);
}

std::vector<NamedItem> read_items(const h5::Group& g, const std::string& name) {
  std::vector<NamedItem> out;
  if (!g.has(name + "/keys")) return out;
  auto keys = g.read_strings(name + "/keys");
  auto names = g.read_strings(name + "/names");
  T2_CHECK_AS(FormatError, keys.size() == names.size(), "'{}': {}/keys has {} entries but {}/names has {}",
              g.where(), name, keys.size(), name, names.size());
  for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i], names[i]});
  return out;
}

// Every dataset below `g`, with its path relative to `g` ("layers/0/z").
template <typename Fn>
void walk_datasets(const h5::Group& g, const std::string& prefix, Fn&& fn) {
  for (auto& c : g.children()) {
    if (g.is_group(c)) walk_datasets(g.open_group(c), prefix + c + "/", fn);
    else fn(g, c, prefix + c);
  }
}

}  // namespace

void check_header(const h5::File& f, const std::string& kind) {
  T2_CHECK_AS(FormatError, f.has_attr("schema_version"),
              "'{}' has no schema_version attribute: not a t2 results file", f.path());
  int64_t v = f.attr_int("schema_version");
  T2_CHECK_AS(FormatError, v >= 1 && v <= schema_version,
              "'{}' has schema_version {}; this t2 reads versions 1..{}", f.path(), v, schema_version);
  std::string k = f.attr_string_or("kind", "");
  T2_CHECK_AS(FormatError, k == kind, "'{}' has kind '{}', expected '{}'", f.path(), k, kind);
}

// ---- run metadata -------------------------------------------------------------------------------

void write_meta(h5::File& f, const RunMeta& m) {
  header(f, "t2-run", "");
  f.set_attr("name", m.name);
  f.set_attr("t2_version", m.t2_version);
  f.set_attr("git_sha", m.git_sha);
  f.set_attr("ranks", m.ranks);
  f.set_attr("started_at", m.started_at);
  f.set_attr("ended_at", m.ended_at);
  f.set_attr("sessions", m.sessions);
  f.set_attr("sandbox_isolation", m.sandbox_isolation);
  f.write_strings("campaign/given", {m.campaign_yaml});
  f.write_strings("campaign/resolved", {m.campaign_resolved});
  f.write_strings("hosts", m.hosts);
  if (!m.placement.empty()) f.write_strings("placement", m.placement);
  f.write("seeds", m.seeds);
  write_items(f, "models", m.models);
  write_items(f, "tasks", m.tasks);
}

RunMeta read_meta(const h5::File& f) {
  check_header(f, "t2-run");
  RunMeta m;
  m.name = f.attr_string_or("name", "");
  m.t2_version = f.attr_string_or("t2_version", "");
  m.git_sha = f.attr_string_or("git_sha", "");
  m.ranks = f.attr_int_or("ranks", 1);
  m.started_at = f.attr_string_or("started_at", "");
  m.ended_at = f.attr_string_or("ended_at", "");
  m.sessions = f.attr_int_or("sessions", 0);
  m.sandbox_isolation = f.attr_string_or("sandbox_isolation", "");
  if (f.has("campaign/given")) m.campaign_yaml = first_or_empty(f.read_strings("campaign/given"));
  if (f.has("campaign/resolved")) m.campaign_resolved = first_or_empty(f.read_strings("campaign/resolved"));
  if (f.has("hosts")) m.hosts = f.read_strings("hosts");
  if (f.has("placement")) m.placement = f.read_strings("placement");
  if (f.has("seeds")) m.seeds = f.read_vector<int64_t>("seeds");
  m.models = read_items(f, "models");
  m.tasks = read_items(f, "tasks");
  return m;
}

// ---- jobs ---------------------------------------------------------------------------------------

void write_job(h5::File& f, const JobInfo& j) {
  header(f, "t2-job", j.id);
  f.set_attr("job_kind", j.kind);
  f.set_attr("status", job_status_name(j.status));
  f.set_attr("message", j.message);
  f.set_attr("started_at", j.started_at);
  f.set_attr("finished_at", j.finished_at);
  f.set_attr("wall_seconds", j.wall_seconds);
  f.set_attr("attempts", j.attempts);
  auto p = f.create_group("params");
  for (auto& [k, v] : j.params) p.set_attr(k, v);
}

JobInfo read_job(const h5::File& f) {
  check_header(f, "t2-job");
  JobInfo j;
  j.id = f.attr_string("job_id");
  j.kind = f.attr_string_or("job_kind", "");
  std::string s = f.attr_string_or("status", "pending");
  j.status = s == "running" ? JobStatus::running
             : s == "failed" ? JobStatus::failed
             : s == "done"   ? JobStatus::done
                             : JobStatus::pending;
  j.message = f.attr_string_or("message", "");
  j.started_at = f.attr_string_or("started_at", "");
  j.finished_at = f.attr_string_or("finished_at", "");
  j.wall_seconds = f.attr_double_or("wall_seconds", 0);
  j.attempts = f.attr_int_or("attempts", 0);
  if (f.is_group("params")) {
    auto p = f.open_group("params");
    for (auto& k : p.attr_names()) j.params[k] = p.attr_string(k);
  }
  return j;
}

// ---- evaluation batches ---------------------------------------------------------------------------

void write_eval_batch(h5::File& f, const std::string& job_id, const EvalBatch& b) {
  header(f, "t2-eval-batch", job_id);
  f.set_attr("batch_index", b.index);
  f.set_attr("first_example", b.first_example);
  f.set_attr("size", static_cast<int64_t>(b.records.size()));
  const auto& r = b.records;
  auto col_s = [&](const char* name, auto get) {
    std::vector<std::string> v;
    v.reserve(r.size());
    for (auto& x : r) v.push_back(get(x));
    f.write_strings(std::string("records/") + name, v);
  };
  auto col_i = [&](const char* name, auto get) {
    std::vector<int64_t> v;
    v.reserve(r.size());
    for (auto& x : r) v.push_back(get(x));
    f.write(std::string("records/") + name, v);
  };
  col_s("example_id", [](auto& x) { return x.example_id; });
  col_i("example_index", [](auto& x) { return x.example_index; });
  col_s("prompt_hash", [](auto& x) { return x.prompt_hash; });
  col_s("response", [](auto& x) { return x.response; });
  col_s("extracted", [](auto& x) { return x.extracted; });
  col_s("reference", [](auto& x) { return x.reference; });
  std::vector<double> score;
  for (auto& x : r) score.push_back(x.score);
  f.write("records/score", score);
  col_s("route", [](auto& x) { return x.route; });
  col_i("prompt_tokens", [](auto& x) { return x.prompt_tokens; });
  col_i("response_tokens", [](auto& x) { return x.response_tokens; });
  col_s("prompt", [](auto& x) { return x.prompt; });
}

EvalBatch read_eval_batch(const h5::File& f) {
  check_header(f, "t2-eval-batch");
  EvalBatch b;
  b.index = f.attr_int("batch_index");
  b.first_example = f.attr_int("first_example");
  const size_t n = static_cast<size_t>(f.attr_int("size"));
  auto ids = f.read_strings("records/example_id");
  auto idx = f.read_vector<int64_t>("records/example_index");
  auto ph = f.read_strings("records/prompt_hash");
  auto resp = f.read_strings("records/response");
  auto ex = f.read_strings("records/extracted");
  auto ref = f.read_strings("records/reference");
  auto score = f.read_vector<double>("records/score");
  auto route = f.read_strings("records/route");
  auto pt = f.read_vector<int64_t>("records/prompt_tokens");
  auto rt = f.read_vector<int64_t>("records/response_tokens");
  // Kept since the lm-eval export (older runs have no prompt column: empty texts).
  auto prompt = f.has("records/prompt") ? f.read_strings("records/prompt") : std::vector<std::string>(n);
  for (size_t len : {ids.size(), idx.size(), ph.size(), resp.size(), ex.size(), ref.size(), score.size(),
                     route.size(), pt.size(), rt.size(), prompt.size()})
    T2_CHECK_AS(FormatError, len == n, "'{}': a records column has {} entries, attribute size says {}",
                f.path(), len, n);
  b.records.resize(n);
  for (size_t i = 0; i < n; ++i)
    b.records[i] = {ids[i], idx[i], ph[i], resp[i], ex[i], ref[i], score[i], route[i], pt[i], rt[i], prompt[i]};
  return b;
}

// ---- metrics ------------------------------------------------------------------------------------

void write_metrics(h5::File& f, const std::string& job_id, const Metrics& m) {
  header(f, "t2-result", job_id);
  f.set_attr("accuracy", m.accuracy);
  f.set_attr("n", m.n);
  f.set_attr("standard_error", m.standard_error);
  auto g = f.create_group("extra");
  for (auto& [k, v] : m.extra) g.set_attr(k, v);
}

Metrics read_metrics(const h5::File& f) {
  check_header(f, "t2-result");
  Metrics m;
  m.accuracy = f.attr_double("accuracy");
  m.n = f.attr_int("n");
  m.standard_error = f.attr_double("standard_error");
  if (f.is_group("extra")) {
    auto g = f.open_group("extra");
    for (auto& k : g.attr_names()) m.extra[k] = g.attr_double(k);
  }
  return m;
}

// ---- checkpoints --------------------------------------------------------------------------------

namespace {
const char* const curve_columns[] = {"reward_mean", "reward_std", "loss", "kl", "grad_norm", "val_accuracy"};

double curve_value(const CurvePoint& p, int c) {
  switch (c) {
    case 0: return p.reward_mean;
    case 1: return p.reward_std;
    case 2: return p.loss;
    case 3: return p.kl;
    case 4: return p.grad_norm;
    default: return p.val_accuracy;
  }
}

void set_curve_value(CurvePoint& p, int c, double v) {
  switch (c) {
    case 0: p.reward_mean = v; break;
    case 1: p.reward_std = v; break;
    case 2: p.loss = v; break;
    case 3: p.kl = v; break;
    case 4: p.grad_norm = v; break;
    default: p.val_accuracy = v; break;
  }
}
}  // namespace

void write_checkpoint(h5::File& f, const std::string& job_id, const CheckpointState& s) {
  header(f, "t2-checkpoint", job_id);
  f.set_attr("step", s.step);
  f.set_attr("best_score", s.best_score);
  f.set_attr("best_step", s.best_step);
  f.create_group("floats");
  f.create_group("ints");
  f.create_group("bytes");
  for (auto& [k, v] : s.floats) f.write("floats/" + k, v);
  for (auto& [k, v] : s.ints) f.write("ints/" + k, v);
  for (auto& [k, v] : s.bytes) f.write("bytes/" + k, v);
  auto sc = f.create_group("scalars");
  for (auto& [k, v] : s.scalars) sc.set_attr(k, v);
  auto st = f.create_group("strings");
  for (auto& [k, v] : s.strings) st.set_attr(k, v);
  // The curve so far, as extendible datasets (the same layout a live appender would use).
  const auto& pts = s.curve.points;
  f.create_extendible("curve/step", h5::DType::i64, {}, 256);
  std::vector<int64_t> steps;
  for (auto& p : pts) steps.push_back(p.step);
  f.append("curve/step", steps);
  for (int c = 0; c < 6; ++c) {
    std::string name = std::string("curve/") + curve_columns[c];
    f.create_extendible(name, h5::DType::f64, {}, 256);
    std::vector<double> v;
    for (auto& p : pts) v.push_back(curve_value(p, c));
    f.append(name, v);
  }
}

TrainingCurve read_curve(const h5::Group& g) {
  TrainingCurve curve;
  if (!g.has("curve/step")) return curve;
  auto steps = g.read_vector<int64_t>("curve/step");
  curve.points.resize(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) curve.points[i].step = steps[i];
  for (int c = 0; c < 6; ++c) {
    std::string name = std::string("curve/") + curve_columns[c];
    if (!g.has(name)) {
      for (auto& p : curve.points) set_curve_value(p, c, std::nan(""));
      continue;
    }
    auto v = g.read_vector<double>(name);
    T2_CHECK_AS(FormatError, v.size() == steps.size(), "'{}': {} has {} rows but curve/step has {}", g.where(),
                name, v.size(), steps.size());
    for (size_t i = 0; i < v.size(); ++i) set_curve_value(curve.points[i], c, v[i]);
  }
  return curve;
}

CheckpointState read_checkpoint(const h5::File& f, bool with_arrays) {
  check_header(f, "t2-checkpoint");
  CheckpointState s;
  s.step = f.attr_int("step");
  s.best_score = f.attr_double("best_score");
  s.best_step = f.attr_int("best_step");
  if (with_arrays) {
    if (f.is_group("floats"))
      walk_datasets(f.open_group("floats"), "", [&](const h5::Group& g, const std::string& n, const std::string& p) {
        s.floats[p] = g.read_vector<float>(n);
      });
    if (f.is_group("ints"))
      walk_datasets(f.open_group("ints"), "", [&](const h5::Group& g, const std::string& n, const std::string& p) {
        s.ints[p] = g.read_vector<int64_t>(n);
      });
    if (f.is_group("bytes"))
      walk_datasets(f.open_group("bytes"), "", [&](const h5::Group& g, const std::string& n, const std::string& p) {
        s.bytes[p] = g.read_vector<uint8_t>(n);
      });
  }
  if (f.is_group("scalars")) {
    auto g = f.open_group("scalars");
    for (auto& k : g.attr_names()) s.scalars[k] = g.attr_double(k);
  }
  if (f.is_group("strings")) {
    auto g = f.open_group("strings");
    for (auto& k : g.attr_names()) s.strings[k] = g.attr_string(k);
  }
  s.curve = read_curve(f);
  return s;
}

// ---- CEM ----------------------------------------------------------------------------------------

void write_cem_generation(h5::File& f, const std::string& job_id, const CemGeneration& c) {
  header(f, "t2-cem-generation", job_id);
  f.set_attr("generation", c.generation);
  f.set_attr("best_score", c.best_score);
  f.write("mean", c.mean);
  f.write("std", c.std);
  f.write("best_alpha", c.best_alpha);
  f.write("population_scores", c.population_scores);
  f.create_group("bytes");
  for (auto& [k, v] : c.bytes) f.write("bytes/" + k, v);
}

CemGeneration read_cem_generation(const h5::File& f) {
  check_header(f, "t2-cem-generation");
  CemGeneration c;
  c.generation = f.attr_int("generation");
  c.best_score = f.attr_double("best_score");
  c.mean = f.read_vector<double>("mean");
  c.std = f.read_vector<double>("std");
  c.best_alpha = f.read_vector<double>("best_alpha");
  c.population_scores = f.read_vector<double>("population_scores");
  if (f.is_group("bytes"))
    walk_datasets(f.open_group("bytes"), "", [&](const h5::Group& g, const std::string& n, const std::string& p) {
      c.bytes[p] = g.read_vector<uint8_t>(n);
    });
  return c;
}

}  // namespace t2::results::codec
