#include "experts/transformer-policy.h"

#include <cstring>
#include <limits>
#include <mutex>

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "experts/decompose.h"
#include "experts/shape.h"
#include "results/hdf5-file.h"
#include "workers/model.h"
#include "workers/tp-collectives.h"

namespace t2 {

namespace {

// Debian's HDF5 is serial: one thread of the process in the library at a time (TP ranks may be
// threads of one process in tests).
std::mutex& h5_mutex() {
  static std::mutex m;
  return m;
}

std::string strip_weight(const std::string& n) {
  const std::string suffix = ".weight";
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
    return n.substr(0, n.size() - suffix.size());
  return n;
}

torch::Tensor read_tensor(const h5::Group& g, const std::string& key, bool fp64, const std::string& where) {
  std::vector<int64_t> shape;
  torch::Tensor t;
  if (fp64) {
    auto a = g.read<double>(key);
    for (auto d : a.shape) shape.push_back(static_cast<int64_t>(d));
    t = torch::tensor(a.data, torch::kFloat64);  // host: svd_shard_read moves the factors to the device
  } else {
    auto a = g.read<float>(key);
    for (auto d : a.shape) shape.push_back(static_cast<int64_t>(d));
    t = torch::tensor(a.data, torch::kFloat32);  // host: svd_shard_read moves the factors to the device
  }
  int64_t n = 1;
  for (auto d : shape) n *= d;
  T2_CHECK_AS(FormatError, n == t.numel(), "{}: {} has {} values for shape [{}]", where, key, t.numel(),
              fmt::join(shape, ", "));
  return t.view(shape);
}

// host: z / multipliers from the wire; adapt_z and adapt_multipliers move them to the device
torch::Tensor from_vector(const std::vector<float>& v) {
  return torch::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kFloat32).clone();
}

torch::Tensor from_rows(const std::vector<std::vector<float>>& rows, int64_t total, const char* what) {
  T2_CHECK_AS(UsageError, !rows.empty(), "{}: no sequences", what);
  auto out = torch::empty({static_cast<int64_t>(rows.size()), total}, torch::kFloat32);  // host: as from_vector
  for (size_t b = 0; b < rows.size(); ++b) {
    T2_CHECK_AS(UsageError, static_cast<int64_t>(rows[b].size()) == total, "{}: row {} has {} values, the layout {}",
                what, b, rows[b].size(), total);
    std::memcpy(out[static_cast<int64_t>(b)].data_ptr<float>(), rows[b].data(), rows[b].size() * sizeof(float));
  }
  return out;
}

std::vector<std::vector<int32_t>> to_ids32(const std::vector<TokenSeq>& v, int64_t vocab, const char* what) {
  std::vector<std::vector<int32_t>> out(v.size());
  for (size_t b = 0; b < v.size(); ++b) {
    out[b].reserve(v[b].size());
    for (auto t : v[b]) {
      T2_CHECK_AS(UsageError, t >= 0 && t < vocab, "{} {}: token id {} outside the vocabulary [0, {})", what, b, t,
                  vocab);
      out[b].push_back(static_cast<int32_t>(t));
    }
  }
  return out;
}

}  // namespace

SvdShard svd_shard_read(const std::string& svd_dir, int tp_rank, int tp_size, torch::Device device,
                        const std::string& expect_hash, torch::Dtype serving) {
  // U and V in a 16-bit serving dtype (svf-compose.h), cast matrix by matrix as they are read.
  const bool half_uv = serving == torch::kBFloat16 || serving == torch::kHalf;
  SvdShard s;
  s.path = svd_shard_path(svd_dir, tp_rank, tp_size);
  T2_CHECK_AS(UsageError, path_exists(s.path),
              "{}: no SVD factors for TP rank {} of {}; run `t2 decompose MODEL_DIR --tp {} --out {}` first", s.path,
              tp_rank, tp_size, tp_size, svd_dir);
  std::lock_guard<std::mutex> lk(h5_mutex());
  auto f = h5::File::open(s.path);
  T2_CHECK_AS(FormatError, f.attr_string_or("format", "") == "t2-svd", "{}: not a t2 SVD file (attribute format is '{}')",
              s.path, f.attr_string_or("format", ""));
  s.source_hash = f.attr_string_or("source_hash", "");
  s.modules = f.attr_string_or("modules", "");
  s.tp_rank = static_cast<int>(f.attr_int_or("tp_rank", -1));
  s.tp_size = static_cast<int>(f.attr_int_or("tp_size", -1));
  T2_CHECK_AS(FormatError, s.tp_rank == tp_rank && s.tp_size == tp_size,
              "{}: holds TP shard {} of {} but the file name says {} of {}", s.path, s.tp_rank, s.tp_size, tp_rank,
              tp_size);
  if (!expect_hash.empty())
    T2_CHECK_AS(UsageError, s.source_hash == expect_hash,
                "{}: factors of source hash {} but {} was expected (the model changed: re-run t2 decompose)", s.path,
                s.source_hash, expect_hash);
  const bool fp64 = f.attr_string_or("dtype", "float32") == "float64";
  auto names = f.read_strings("names");
  T2_CHECK_AS(FormatError, !names.empty(), "{}: /names is empty", s.path);
  for (const auto& n : names) {
    const std::string where = s.path + ": /m/" + n;
    T2_CHECK_AS(FormatError, f.has("m/" + n), "{} is missing", where);
    auto g = f.open_group("m/" + n);
    SvfFactors fac;
    fac.U = read_tensor(g, "U", fp64, where).to(device, half_uv ? serving : (fp64 ? torch::kDouble : torch::kFloat));
    fac.S = read_tensor(g, "S", fp64, where).to(device);
    fac.V = read_tensor(g, "V", fp64, where).to(device, half_uv ? serving : (fp64 ? torch::kDouble : torch::kFloat));
    T2_CHECK_AS(FormatError,
                fac.U.dim() == 2 && fac.V.dim() == 2 && fac.S.dim() == 1 && fac.U.size(1) == fac.rank() &&
                    fac.V.size(1) == fac.rank(),
                "{}: inconsistent factor shapes U {}, S {}, V {}", where, shape_of(fac.U), shape_of(fac.S),
                shape_of(fac.V));
    s.names.push_back(strip_weight(n));
    s.rows.push_back(g.attr_int_or("rows", fac.U.size(0)));
    s.cols.push_back(g.attr_int_or("cols", fac.V.size(0)));
    s.factors.push_back(std::move(fac));
  }
  return s;
}

TransformerPolicy::TransformerPolicy(Model& model, const std::string& svd_dir, const std::string& expect_hash)
    : model_(model) {
  shard_ = svd_shard_read(svd_dir, model.tp_rank(), model.tp_size(), model.device(), expect_hash, model.dtype());
  for (size_t i = 0; i < shard_.names.size(); ++i) {
    const auto& name = shard_.names[i];
    const LinearInfo& info = model.linear_info(name);  // UsageError with close names when absent
    const auto& f = shard_.factors[i];
    T2_CHECK_AS(UsageError, shard_.rows[i] == info.out_features && shard_.cols[i] == info.in_features,
                "{}: '{}' was decomposed as a {}x{} matrix but the model's layer is {}x{} (another model?)",
                shard_.path, name, shard_.rows[i], shard_.cols[i], info.out_features, info.in_features);
    T2_CHECK_AS(UsageError, f.U.size(0) == info.out_local && f.V.size(0) == info.in_local,
                "{}: the shard of '{}' is U {} · V {} but this rank's layer is [{}, {}]", shard_.path, name,
                shape_of(f.U), shape_of(f.V), info.out_local, info.in_local);
    layout_.names.push_back(name);
    layout_.sizes.push_back(f.rank());
    adapters_.push_back(std::make_shared<SvfLinearAdapter>(f));
  }
}

TransformerPolicy::~TransformerPolicy() {
  try {
    adapt_base();
  } catch (...) {
  }
}

ZLayout TransformerPolicy::layout() const { return layout_; }

int64_t TransformerPolicy::vocab_size() const { return model_.config().vocab_size; }

torch::Tensor TransformerPolicy::checked(const torch::Tensor& t, const char* what) const {
  const int64_t total = layout_.total();
  T2_CHECK_AS(UsageError, t.defined() && (t.dim() == 1 || t.dim() == 2) && t.size(-1) == total,
              "{} must be [{}] or [B, {}] (the SVF layout), got {}", what, total, total, shape_of(t));
  return t;
}

void TransformerPolicy::install() {
  if (installed_) return;
  for (size_t i = 0; i < adapters_.size(); ++i) model_.set_adapter(layout_.names[i], adapters_[i]);
  installed_ = true;
}

void TransformerPolicy::adapt_z(const torch::Tensor& z) {
  checked(z, "z");
  // To the device in float32 (autograd follows .to), then through tp_copy_to: identity forward, and
  // in backward the all-reduce of the ranks' partial dL/dz (see the header).
  torch::Tensor zd = z.to(model_.device(), torch::kFloat32);
  zd = tp_copy_to(zd, model_.tp_comm());
  for (size_t i = 0; i < adapters_.size(); ++i)
    adapters_[i]->set_z(zd.narrow(-1, layout_.offset(i), layout_.sizes[i]));
  model_.set_layer_recompute(recompute_, zd);  // every adapter's z is a view of zd
  install();
}

void TransformerPolicy::adapt_multipliers(const torch::Tensor& m) {
  checked(m, "multipliers");
  torch::NoGradGuard ng;
  torch::Tensor md = m.detach().to(model_.device(), torch::kFloat32);
  model_.set_layer_recompute(false);
  for (size_t i = 0; i < adapters_.size(); ++i)
    adapters_[i]->set_multipliers(md.narrow(-1, layout_.offset(i), layout_.sizes[i]).contiguous());
  install();
}

void TransformerPolicy::adapt_base() {
  model_.set_layer_recompute(false);
  if (!installed_) return;
  model_.clear_adapters();
  installed_ = false;
}

void TransformerPolicy::adapt_expert(const std::vector<float>& z) {
  T2_CHECK_AS(UsageError, static_cast<int64_t>(z.size()) == layout_.total(), "expert z has {} values, the layout {}",
              z.size(), layout_.total());
  adapt_multipliers(torch::sigmoid(from_vector(z)));
}

void TransformerPolicy::adapt_multipliers(const std::vector<float>& m) {
  T2_CHECK_AS(UsageError, static_cast<int64_t>(m.size()) == layout_.total(), "multipliers have {} values, the layout {}",
              m.size(), layout_.total());
  adapt_multipliers(from_vector(m));
}

void TransformerPolicy::adapt_experts(const std::vector<std::vector<float>>& z_per_sequence) {
  adapt_multipliers(torch::sigmoid(from_rows(z_per_sequence, layout_.total(), "adapt_experts")));
}

void TransformerPolicy::adapt_multipliers_per_sequence(const std::vector<std::vector<float>>& m_per_sequence) {
  adapt_multipliers(from_rows(m_per_sequence, layout_.total(), "adapt_multipliers_per_sequence"));
}

std::vector<Generation> TransformerPolicy::generate_full(const std::vector<std::vector<int32_t>>& prompts,
                                                         const GenerateOptions& opt, const Detokenizer& detok) {
  return model_.generate(prompts, opt, detok);
}

std::vector<TokenSeq> TransformerPolicy::generate(const std::vector<TokenSeq>& prompts, const SampleOptions& opt,
                                                  uint64_t seed) {
  GenerateOptions go;
  T2_CHECK_AS(UsageError, opt.max_new_tokens >= 0 && opt.max_new_tokens <= std::numeric_limits<int>::max(),
              "max_new_tokens {} out of range", opt.max_new_tokens);
  go.max_new_tokens = static_cast<int>(opt.max_new_tokens);
  go.temperature = opt.temperature;
  go.top_p = opt.top_p;
  go.seed = seed;
  go.use_config_eos = use_config_eos_;
  for (auto t : opt.stop_tokens) go.eos_ids.push_back(static_cast<int32_t>(t));
  auto gens = model_.generate(to_ids32(prompts, vocab_size(), "prompt"), go);
  std::vector<TokenSeq> out(gens.size());
  for (size_t b = 0; b < gens.size(); ++b) out[b].assign(gens[b].ids.begin(), gens[b].ids.end());
  return out;
}

torch::Tensor TransformerPolicy::completion_log_softmax(const std::vector<TokenSeq>& prompts,
                                                        const std::vector<TokenSeq>& completions) {
  return model_.completion_log_softmax(to_ids32(prompts, vocab_size(), "prompt"),
                                       to_ids32(completions, vocab_size(), "completion"));
}

}  // namespace t2
