#include "jobs/math-equal.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "jobs/math-extract.h"

namespace t2::tasks {

namespace {

std::string strip_ws(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n\f\v");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n\f\v");
  return s.substr(a, b - a + 1);
}

std::string strip_chars(const std::string& s, const std::string& chars) {
  size_t a = s.find_first_not_of(chars);
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(chars);
  return s.substr(a, b - a + 1);
}

bool starts(const std::string& s, char c) { return !s.empty() && s.front() == c; }
bool ends(const std::string& s, char c) { return !s.empty() && s.back() == c; }

// parse_digits: commas removed, float(); a trailing "%" (or "\%") means /100.
std::optional<double> parse_digits(std::string s) {
  std::string t;
  for (char c : s)
    if (c != ',') t += c;
  auto as_float = [](const std::string& x) -> std::optional<double> {
    std::string y = strip_ws(x);
    if (y.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(y.c_str(), &end);
    if (end != y.c_str() + y.size()) return std::nullopt;
    // Python's float() rejects hex and accepts inf/nan words; strtod accepts hex: exclude it.
    if (y.find('x') != std::string::npos || y.find('X') != std::string::npos) return std::nullopt;
    return v;
  };
  if (auto v = as_float(t)) return v;
  if (ends(t, '%')) {
    t.pop_back();
    if (ends(t, '\\')) t.pop_back();
    if (auto v = as_float(t)) return *v / 100;
  }
  return std::nullopt;
}

bool isclose(double a, double b, double rel) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(',', start);
    if (p == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

}  // namespace

MathEquivalence math_equal(const std::string& pred_in, const std::string& ref_in, double symbolic_rel) {
  if (pred_in == ref_in) return MathEquivalence::equal;
  auto pd = parse_digits(pred_in), rd = parse_digits(ref_in);
  if (pd && rd) {
    for (double item : {*rd / 100, *rd, *rd * 100})
      if (isclose(item, *pd, 1e-4)) return MathEquivalence::equal;
    return MathEquivalence::different;
  }
  if (pred_in.empty()) return MathEquivalence::different;
  std::string reference = strip_ws(ref_in), prediction = strip_ws(pred_in);
  std::string pred_str = prediction, ref_str = reference;
  if ((starts(prediction, '[') && ends(prediction, ']') && !starts(reference, '(')) ||
      (starts(prediction, '(') && ends(prediction, ')') && !starts(reference, '['))) {
    pred_str = strip_chars(pred_str, "[]()");
    ref_str = strip_chars(ref_str, "[]()");
  }
  auto drop = [](std::string s) {
    std::string o;
    for (char c : s)
      if (c != '{' && c != '}' && c != '(' && c != ')') o += c;
    return o;
  };
  if (drop(pred_str) == drop(ref_str)) return MathEquivalence::equal;
  bool tuple_like = (starts(prediction, '[') && ends(prediction, ']') && starts(reference, '[') && ends(reference, ']')) ||
                    (starts(prediction, '(') && ends(prediction, ')') && starts(reference, '(') && ends(reference, ')'));
  if (tuple_like && prediction.size() >= 2 && reference.size() >= 2) {
    auto pp = split_commas(prediction.substr(1, prediction.size() - 2));
    auto rp = split_commas(reference.substr(1, reference.size() - 2));
    if (pp.size() == rp.size()) {
      bool all = true, any_unknown = false;
      for (size_t i = 0; i < pp.size(); ++i) {
        auto r = math_equal(pp[i], rp[i], symbolic_rel);
        if (r == MathEquivalence::unknown) any_unknown = true;
        if (r != MathEquivalence::equal) all = false;
      }
      if (all) return MathEquivalence::equal;
      if (pp.size() > 1 && !any_unknown) return MathEquivalence::different;
    }
  }
  // symbolic_equal: C++ first; whatever C++ cannot parse is left to sympy (unknown)
  auto a = ParsedMath::parse(prediction), b = ParsedMath::parse(reference);
  if (a && b) {
    auto r = compare_parsed(*a, *b, symbolic_rel);
    if (r != MathEquivalence::unknown) return r;
  }
  return MathEquivalence::unknown;
}

MathVerdict math_is_equiv(const std::optional<std::string>& prediction, const std::optional<std::string>& reference,
                          double symbolic_rel) {
  MathVerdict v;
  if (!prediction && !reference) {
    v.result = MathEquivalence::equal;
    v.how = "both missing";
    return v;
  }
  if (!prediction || !reference) {
    v.result = MathEquivalence::different;
    v.how = "missing";
    return v;
  }
  v.pred_norm = strip_math_string(*prediction);
  v.ref_norm = strip_math_string(*reference);
  if (v.pred_norm == v.ref_norm) {
    v.result = MathEquivalence::equal;
    v.how = "string";
    return v;
  }
  v.result = math_equal(v.pred_norm, v.ref_norm, symbolic_rel);
  v.how = v.result == MathEquivalence::unknown ? "needs sympy" : "math_equal";
  return v;
}

}  // namespace t2::tasks
