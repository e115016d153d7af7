// Few-shot search over mixture coefficients α (METHOD.md §6.3): the cross-entropy method with the
// reference's settings (population 32, 6 elites, 50 generations, initial mean 1/K, std 0.5, samples
// clamped to [0, 1], the previous best re-evaluated as member 0) and random shooting (§6.4) as the
// alternative. A state value plus ask/tell, so the coordinator farms candidates out to worker groups
// and checkpoints after every generation (or mid-generation, keeping the scores it has):
//
//   state = search_init(dim, init_mean, config)
//   while (!search_done(state, config)) {
//     population = search_ask(state, config)          // deterministic given the state
//     scores     = evaluate each candidate (accuracy on the shots, log-likelihood tie-break)
//     state      = search_tell(state, config, scores)
//   }
// Torch-free (public).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t2 {

struct SearchConfig {
  std::string method = "cem";     // "cem" | "random_shooting"
  int64_t population = 32;
  int64_t elites = 6;             // int(0.2 · 32), as the reference
  int64_t generations = 50;
  double init_std = 0.5;          // (hi − lo) / 2
  double lo = 0.0, hi = 1.0;      // bounds; samples are clamped
  bool re_eval_best = true;       // member 0 of every generation after the first is the best so far
  bool loglik_tie_break = true;   // rank equal accuracies by mean log-likelihood
  uint64_t seed = 0;
};

void search_validate(const SearchConfig& c);

// A candidate's score: accuracy on the shots first, then (when enabled) the mean per-token
// log-likelihood of its correct answers.
struct CandidateScore {
  double accuracy = 0;
  double loglik = 0;
};
// What one correct answer adds to that log-likelihood: the sum of its tokens' log-probabilities and
// their count, over the answer's tokens only. The trailing `stop_tokens` that spelled a stop string
// are left out (the reference scores its outputs with the stop strings removed), so an answer that
// ended on a stop string counts exactly as the same answer without it.
struct AnswerLoglik {
  double sum = 0;
  int64_t tokens = 0;
};
AnswerLoglik answer_loglik(const std::vector<float>& logprobs, int64_t stop_tokens);

// True when a ranks strictly above b.
bool score_better(const CandidateScore& a, const CandidateScore& b, bool loglik_tie_break);

struct SearchState {
  std::vector<double> mean, std;              // CEM distribution (diagonal Gaussian)
  int64_t generation = 0;                     // generations told so far
  std::string rng;                            // Rng::save()
  std::vector<std::vector<double>> population;  // asked and not yet told (empty between generations)
  bool has_best = false;
  std::vector<double> best;
  CandidateScore best_score;
  std::vector<double> best_accuracy_curve;    // best accuracy after each generation
  int64_t dim() const { return static_cast<int64_t>(mean.size()); }
};

SearchState search_init(int64_t dim, const std::vector<double>& init_mean, const SearchConfig& c);
bool search_done(const SearchState& s, const SearchConfig& c);
// The population of the current generation (asks again return the same population).
std::vector<std::vector<double>> search_ask(SearchState& s, const SearchConfig& c);
// Scores for search_ask's population, in order. CEM: mean/std ← mean / unbiased std of the elites.
SearchState search_tell(SearchState s, const SearchConfig& c, const std::vector<CandidateScore>& scores);

std::string search_state_to_bytes(const SearchState& s);
SearchState search_state_from_bytes(std::string_view bytes, const std::string& what);

}  // namespace t2
