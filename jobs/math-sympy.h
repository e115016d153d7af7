// Symbolic equivalence through sympy, for MATH answer pairs the C++ comparison cannot decide. One
// `python3` process checks a whole batch (sympy's import costs ~0.5 s, so never one per pair);
// every pair has its own time limit inside the helper, and the process a deadline. When python3 or
// sympy is missing the result is `unknown` for every pair and `sympy_status()` says why.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/deadline.h"
#include "jobs/math-expr.h"

namespace t2::tasks {

struct SympyPair {
  std::string prediction, reference;  // normalised LaTeX (strip_math_string)
};

// "" when sympy can be used, else the reason (checked once per process, cached).
const std::string& sympy_status(const std::string& python = "/usr/bin/python3");

// One verdict per pair: equal / different, or unknown when sympy could not parse or timed out.
std::vector<MathEquivalence> sympy_equal_batch(const std::vector<SympyPair>& pairs,
                                               const std::string& python = "/usr/bin/python3",
                                               Seconds per_pair = Seconds(5), double rel = 1e-6);

}  // namespace t2::tasks
