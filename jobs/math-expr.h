// A small parser for the LaTeX arithmetic that MATH answers are written in (after
// strip_math_string): numbers, single-letter and Greek variables, + - * / ^, \frac, \sqrt[n]{},
// \cdot, \times, \div, \pi, parentheses and braces, implicit multiplication ("2\sqrt{3}x").
// It lets t2 decide equivalence in C++ where a string comparison fails: constant expressions are
// evaluated, expressions with variables are compared at fixed pseudo-random points. Anything it
// cannot parse (text, sets, inequalities, matrices) is left to the sympy helper or counts unequal.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace t2::tasks {

struct MathExpr;  // the parsed tree (opaque)

class ParsedMath {
 public:
  ParsedMath();
  ~ParsedMath();
  ParsedMath(ParsedMath&&) noexcept;
  ParsedMath& operator=(ParsedMath&&) noexcept;

  // nullopt when `latex` is outside the supported subset.
  static std::optional<ParsedMath> parse(const std::string& latex);

  const std::set<std::string>& variables() const { return vars_; }
  // NaN when undefined (division by zero, even root of a negative number).
  double evaluate(const std::map<std::string, double>& values = {}) const;
  // The expression in sympy's Python syntax, e.g. "sqrt(3)/2 + pi*x".
  std::string to_sympy() const;

 private:
  std::unique_ptr<MathExpr> root_;
  std::set<std::string> vars_;
};

enum class MathEquivalence { equal, different, unknown };

// Numeric / random-point comparison of two parsed expressions (rel. tolerance `rel`).
MathEquivalence compare_parsed(const ParsedMath& a, const ParsedMath& b, double rel = 1e-3);

}  // namespace t2::tasks
