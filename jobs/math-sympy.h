// Symbolic equivalence through sympy, for MATH answer pairs the C++ comparison cannot decide. One
// Python process in the code sandbox (jobs/sandbox.h) checks a whole batch (sympy's import costs
// ~0.5 s, so never one per pair); every pair has its own time limit inside the helper, and the
// process a deadline. Model text reaches sympy's evaluating parser only as plain arithmetic (numbers,
// operators, parentheses, names that are no Python builtin), and only inside the sandbox. When
// python3, sympy or the sandbox is unavailable the result is `unknown` for every pair and
// `sympy_status()` says why.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/deadline.h"
#include "jobs/math-expr.h"
#include "jobs/sandbox.h"

namespace t2::tasks {

struct SympyPair {
  std::string prediction, reference;  // normalised LaTeX (strip_math_string)
};

// "" when sympy can be used, else the reason (checked once per process, cached).
const std::string& sympy_status(const SandboxOptions& sandbox = {});

// One verdict per pair: equal / different, or unknown when sympy could not parse or timed out.
std::vector<MathEquivalence> sympy_equal_batch(const std::vector<SympyPair>& pairs,
                                               const SandboxOptions& sandbox = {},
                                               Seconds per_pair = Seconds(5), double rel = 1e-6);

}  // namespace t2::tasks
