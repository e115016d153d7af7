// CEM and random shooting: a planted optimum of a synthetic objective is found, resume from bytes
// mid-search is bit-identical, the previous best is re-evaluated, bounds hold.
#include <gtest/gtest.h>

#include "core/error.h"

#include <cmath>

#include "experts/cem.h"
#include "experts/rng.h"

namespace t2 {
namespace {

// Accuracy-like objective with a planted optimum: the fraction of "shots" answered correctly, where
// shot j is right when |x_i − target_i| < tol for coordinate i = j % dim; the log-likelihood term is
// −distance, the tie-break among equal accuracies.
struct Planted {
  std::vector<double> target;
  CandidateScore score(const std::vector<double>& x) const {
    const int shots = 10;
    double right = 0, dist = 0;
    for (size_t i = 0; i < x.size(); ++i) dist += (x[i] - target[i]) * (x[i] - target[i]);
    for (int j = 0; j < shots; ++j) {
      size_t i = j % x.size();
      right += std::abs(x[i] - target[i]) < 0.08 ? 1 : 0;
    }
    return {right / shots, -std::sqrt(dist)};
  }
};

SearchState run(const SearchConfig& c, const Planted& f, SearchState s, int64_t generations) {
  for (int64_t g = 0; g < generations && !search_done(s, c); ++g) {
    auto pop = search_ask(s, c);
    std::vector<CandidateScore> sc;
    for (auto& x : pop) sc.push_back(f.score(x));
    s = search_tell(std::move(s), c, sc);
  }
  return s;
}

// CEM's tie-break log-likelihood counts an answer's tokens only: the same answer ended by a stop
// string scores the same.
TEST(Cem, StopStringTokensDoNotCountInTheLogLikelihood) {
  std::vector<float> answer{-0.5f, -1.0f, -0.25f};
  std::vector<float> with_stop = answer;
  with_stop.push_back(-3.0f);
  with_stop.push_back(-0.1f);
  auto a = answer_loglik(answer, 0), b = answer_loglik(with_stop, 2), kept = answer_loglik(with_stop, 0);
  EXPECT_EQ(a.tokens, 3);
  EXPECT_EQ(b.tokens, a.tokens);
  EXPECT_EQ(b.sum, a.sum);
  EXPECT_NE(kept.sum / double(kept.tokens), a.sum / double(a.tokens));
}

TEST(Cem, FindsPlantedOptimum) {
  Planted f{{0.8, 0.15, 0.55, 0.3, 0.95, 0.05}};
  SearchConfig c;  // the reference's settings: 32, 6 elites, std 0.5, [0, 1]
  c.seed = 3;
  auto s = run(c, f, search_init(6, std::vector<double>(6, 1.0 / 3), c), c.generations);
  EXPECT_EQ(s.generation, 50);
  EXPECT_DOUBLE_EQ(s.best_score.accuracy, 1.0);
  for (size_t i = 0; i < f.target.size(); ++i) EXPECT_NEAR(s.best[i], f.target[i], 0.08) << i;
  for (size_t i = 1; i < s.best_accuracy_curve.size(); ++i)
    EXPECT_GE(s.best_accuracy_curve[i], s.best_accuracy_curve[i - 1]);  // re-evaluated best never lost
}

TEST(Cem, RandomShootingImprovesAndStaysInBounds) {
  Planted f{{0.7, 0.2}};
  SearchConfig c;
  c.method = "random_shooting";
  c.generations = 30;
  c.seed = 4;
  auto s = search_init(2, {0.5, 0.5}, c);
  auto first = search_ask(s, c);
  for (auto& x : first)
    for (double v : x) EXPECT_TRUE(v >= 0 && v <= 1);
  s = run(c, f, s, c.generations);
  EXPECT_GE(s.best_score.accuracy, 0.5);
}

TEST(Cem, ResumeMidSearchIsBitIdentical) {
  Planted f{{0.6, 0.4, 0.2}};
  SearchConfig c;
  c.generations = 12;
  c.seed = 9;
  auto straight = run(c, f, search_init(3, {0.33, 0.33, 0.33}, c), 12);
  auto part = run(c, f, search_init(3, {0.33, 0.33, 0.33}, c), 5);
  search_ask(part, c);  // stopped mid-generation, population asked, no scores yet
  auto resumed = search_state_from_bytes(search_state_to_bytes(part), "cem checkpoint");
  resumed = run(c, f, resumed, 12);
  EXPECT_EQ(search_state_to_bytes(resumed), search_state_to_bytes(straight));
  EXPECT_EQ(resumed.best, straight.best);
}

TEST(Cem, ReEvaluatesPreviousBestAsMemberZero) {
  SearchConfig c;
  c.seed = 1;
  auto s = search_init(2, {0.5, 0.5}, c);
  auto pop = search_ask(s, c);
  std::vector<CandidateScore> sc(pop.size(), {0.0, 0.0});
  sc[7] = {0.5, -1.0};
  s = search_tell(s, c, sc);
  EXPECT_EQ(s.best, pop[7]);
  auto next = search_ask(s, c);
  EXPECT_EQ(next[0], pop[7]);
}

TEST(Cem, RejectsBadConfigAndBadBytes) {
  SearchConfig c;
  c.method = "cma";
  EXPECT_THROW(search_validate(c), UsageError);
  EXPECT_THROW(search_state_from_bytes("garbage-bytes", "x.bin"), FormatError);
}

}  // namespace
}  // namespace t2
