// MATH answer equivalence (METHOD.md §5.2): both sides normalised with strip_math_string (plus the
// careful-grader fixes below, unless compat `math_tolerance`), then the reference's `math_equal` cascade: exact string, numeric (rel 1e-4, also accepting x100 and /100 for
// percentages), bracket-insensitive string, element-wise tuples/intervals, then symbolic. The symbolic
// step is done in C++ (math-expr.h: constants evaluated, expressions with variables compared at fixed
// points, rel 1e-3 as the reference's N() check) and, for what C++ cannot parse, by sympy through
// math-sympy.h when the caller allows it; otherwise such a pair is `unknown`, counted as not equal.
#pragma once

#include <optional>
#include <string>

#include "jobs/math-expr.h"

namespace t2::tasks {

// Relative tolerance of the symbolic stage. The reference uses sympy's N() at rel 1e-3, which
// accepts 2221 for 2220 (compat `math_tolerance`); t2's default is 1e-6.
inline constexpr double kMathSymbolicRel = 1e-6;
inline constexpr double kMathReferenceRel = 1e-3;

// `math_equal` on two already-normalised strings; `unknown` where only sympy could tell.
// Default (`reference` false), as a careful grader: a number is a number only with well-formed
// thousands separators ("1,000"; "1,2" is a list), a trailing "%" is ignored, no x100 or /100
// leniency, and comma-separated answers without brackets ("-2,1" vs "1,-2") are compared as
// unordered lists (each element with its own "x=" dropped). `reference` true: the reference's cascade
// (commas dropped anywhere, "%" = /100, x100 and /100 accepted, lists ordered).
MathEquivalence math_equal(const std::string& prediction, const std::string& reference,
                           double symbolic_rel = kMathSymbolicRel, bool reference_rules = false);

struct MathVerdict {
  MathEquivalence result = MathEquivalence::different;
  std::string pred_norm, ref_norm;  // the normalised strings (what sympy gets when unknown)
  std::string how;                  // "string", "numeric", "tuple", "expression", ...
};

// `is_equiv(pred, ref)`: both None -> equal; one None -> different; else normalise and compare.
// Default normalisation adds to strip_math_string (careful_math_string): "{,}" and "\," thousands
// separators, the Unicode minus, a lone leading "$", units in \text{}/\mbox{}/\mathrm{} after a
// number, \text{X} -> X, and mixed numbers ("137\frac{1}{2}" = 137 + 1/2, not 137 x 1/2).
// `reference_rules` true (compat `math_tolerance`): strip_math_string and the reference cascade only.
MathVerdict math_is_equiv(const std::optional<std::string>& prediction, const std::optional<std::string>& reference,
                          double symbolic_rel = kMathSymbolicRel, bool reference_rules = false);

// The default normalisation of one answer (see math_is_equiv).
std::string careful_math_string(const std::string& answer);

}  // namespace t2::tasks
