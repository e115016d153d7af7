#include "experts/cem.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"
#include "experts/rng.h"
#include "experts/state-bytes.h"

namespace t2 {

namespace {
constexpr uint64_t kStateTag = 0x3130484352535432ull;  // "2TSRCH01"
}

void search_validate(const SearchConfig& c) {
  T2_CHECK_AS(UsageError, c.method == "cem" || c.method == "random_shooting",
              "search.method: unknown '{}' (valid: cem, random_shooting)", c.method);
  T2_CHECK_AS(UsageError, c.population >= 2, "search.population must be >= 2, got {}", c.population);
  T2_CHECK_AS(UsageError, c.elites >= 2 && c.elites <= c.population,
              "search.elites must be in [2, population = {}], got {}", c.population, c.elites);
  T2_CHECK_AS(UsageError, c.generations > 0, "search.generations must be positive, got {}", c.generations);
  T2_CHECK_AS(UsageError, c.lo < c.hi, "search bounds need lo < hi, got [{}, {}]", c.lo, c.hi);
  T2_CHECK_AS(UsageError, c.init_std > 0, "search.init_std must be positive, got {}", c.init_std);
}

bool score_better(const CandidateScore& a, const CandidateScore& b, bool tie_break) {
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return tie_break && a.loglik > b.loglik;
}

SearchState search_init(int64_t dim, const std::vector<double>& init_mean, const SearchConfig& c) {
  search_validate(c);
  T2_CHECK(dim > 0 && static_cast<int64_t>(init_mean.size()) == dim, "search: initial mean has {} entries, dim {}",
           init_mean.size(), dim);
  SearchState s;
  s.mean = init_mean;
  s.std.assign(dim, c.init_std);
  s.rng = Rng(c.seed).save();
  return s;
}

bool search_done(const SearchState& s, const SearchConfig& c) { return s.generation >= c.generations; }

std::vector<std::vector<double>> search_ask(SearchState& s, const SearchConfig& c) {
  if (!s.population.empty()) return s.population;
  Rng rng = Rng::load(s.rng);
  const int64_t d = s.dim();
  for (int64_t p = 0; p < c.population; ++p) {
    std::vector<double> x(d);
    if (p == 0 && c.re_eval_best && s.has_best) {
      x = s.best;
    } else {
      for (int64_t i = 0; i < d; ++i) {
        double v = c.method == "cem" ? s.mean[i] + s.std[i] * rng.normal() : c.lo + (c.hi - c.lo) * rng.uniform();
        x[i] = std::clamp(v, c.lo, c.hi);
      }
    }
    s.population.push_back(std::move(x));
  }
  s.rng = rng.save();
  return s.population;
}

SearchState search_tell(SearchState s, const SearchConfig& c, const std::vector<CandidateScore>& scores) {
  T2_CHECK(!s.population.empty(), "search_tell without a population (call search_ask first)");
  T2_CHECK(scores.size() == s.population.size(), "search_tell: {} scores for a population of {}", scores.size(),
           s.population.size());
  for (auto& sc : scores)
    T2_CHECK(std::isfinite(sc.accuracy) && !std::isnan(sc.loglik), "search_tell: a score is not a number");
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  // Stable: equal scores keep population order (the reference breaks ties arbitrarily).
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return score_better(scores[a], scores[b], c.loglik_tie_break); });
  const auto& top = scores[idx[0]];
  // With re-evaluation the previous best is member 0, so the generation's top is the best so far with
  // a fresh score (the reference's best_soln); without it, keep the best ever seen.
  if (!s.has_best || c.re_eval_best || score_better(top, s.best_score, c.loglik_tie_break)) {
    s.best = s.population[idx[0]];
    s.best_score = top;
    s.has_best = true;
  }
  if (c.method == "cem") {
    const int64_t d = s.dim(), k = c.elites;
    for (int64_t i = 0; i < d; ++i) {
      double mu = 0;
      for (int64_t e = 0; e < k; ++e) mu += s.population[idx[e]][i];
      mu /= static_cast<double>(k);
      double var = 0;
      for (int64_t e = 0; e < k; ++e) var += (s.population[idx[e]][i] - mu) * (s.population[idx[e]][i] - mu);
      s.mean[i] = mu;
      s.std[i] = std::sqrt(var / static_cast<double>(k - 1));  // unbiased, as torch.std
    }
  }
  s.population.clear();
  s.generation += 1;
  s.best_accuracy_curve.push_back(s.best_score.accuracy);
  return s;
}

std::string search_state_to_bytes(const SearchState& s) {
  ByteWriter w;
  w.u64(kStateTag);
  w.f64s(s.mean);
  w.f64s(s.std);
  w.i64(s.generation);
  w.str(s.rng);
  w.u64(s.population.size());
  for (auto& p : s.population) w.f64s(p);
  w.u64(s.has_best ? 1 : 0);
  w.f64s(s.best);
  w.f64(s.best_score.accuracy);
  w.f64(s.best_score.loglik);
  w.f64s(s.best_accuracy_curve);
  return w.take();
}

SearchState search_state_from_bytes(std::string_view bytes, const std::string& what) {
  ByteReader r(bytes, what);
  r.expect_tag(kStateTag, "search state");
  SearchState s;
  s.mean = r.f64s();
  s.std = r.f64s();
  s.generation = r.i64();
  s.rng = r.str();
  auto n = r.u64();
  T2_CHECK_AS(FormatError, n <= bytes.size(), "{}: population size {} is not plausible", what, n);
  for (uint64_t i = 0; i < n; ++i) s.population.push_back(r.f64s());
  s.has_best = r.u64() != 0;
  s.best = r.f64s();
  s.best_score.accuracy = r.f64();
  s.best_score.loglik = r.f64();
  s.best_accuracy_curve = r.f64s();
  r.expect_end();
  T2_CHECK_AS(FormatError, s.mean.size() == s.std.size(), "{}: mean has {} entries, std {}", what, s.mean.size(),
              s.std.size());
  Rng::load(s.rng);
  return s;
}

AnswerLoglik answer_loglik(const std::vector<float>& logprobs, int64_t stop_tokens) {
  T2_CHECK(stop_tokens >= 0, "answer_loglik: {} stop tokens", stop_tokens);
  const size_t n = logprobs.size() - std::min(logprobs.size(), static_cast<size_t>(stop_tokens));
  AnswerLoglik a;
  for (size_t i = 0; i < n; ++i) a.sum += logprobs[i];
  a.tokens = static_cast<int64_t>(n);
  return a;
}

}  // namespace t2
