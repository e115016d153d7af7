#include "jobs/math-equal.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "jobs/answer-number.h"
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
bool digit(char c) { return c >= '0' && c <= '9'; }

// "1,234,567.5" (or without commas): well-formed thousands groups only
bool thousands_ok(const std::string& t) {
  size_t i = (starts(t, '-') || starts(t, '+')) ? 1 : 0;
  size_t first = i;
  while (i < t.size() && digit(t[i])) ++i;
  if (i >= t.size() || t[i] != ',') return t.find(',') == std::string::npos;
  if (i - first < 1 || i - first > 3) return false;
  while (i < t.size() && t[i] == ',') {
    for (size_t k = 1; k <= 3; ++k)
      if (i + k >= t.size() || !digit(t[i + k])) return false;
    if (i + 4 < t.size() && digit(t[i + 4])) return false;
    i += 4;
  }
  return t.find(',', i) == std::string::npos;
}

// parse_digits: commas removed, float(); a trailing "%" (or "\%") means /100 (reference), or is
// ignored (default, where commas must also be thousands separators).
std::optional<double> parse_digits(std::string s, bool reference_rules) {
  if (!reference_rules) {
    std::string x = strip_ws(s);
    if (ends(x, '%')) {
      x.pop_back();
      if (ends(x, '\\')) x.pop_back();
    }
    if (x.find(',') != std::string::npos && !thousands_ok(x)) return std::nullopt;
    s = x;
  }
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
  if (reference_rules && ends(t, '%')) {
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

// Commas outside any (), [], {}; one element when there is none (or the nesting is unbalanced).
std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') --depth;
    else if (c == ',' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
    if (depth < 0) return {s};
  }
  if (depth != 0) return {s};
  out.push_back(s.substr(start));
  return out;
}

// "x=3" -> "3" for a short left side
std::string drop_short_lhs(const std::string& s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || s.find('=', eq + 1) != std::string::npos || eq > 2) return s;
  return s.substr(eq + 1);
}

bool letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// "\text{...}" / "\mbox{...}" / "\mathrm{...}" / "\textbf{...}" at `p`: the content's range.
bool text_command_at(const std::string& s, size_t p, size_t& open, size_t& close) {
  for (const char* cmd : {"\\text{", "\\textbf{", "\\mbox{", "\\mathrm{"}) {
    size_t n = std::char_traits<char>::length(cmd);
    if (s.compare(p, n, cmd) != 0) continue;
    int depth = 1;
    for (size_t i = p + n; i < s.size(); ++i) {
      if (s[i] == '{') ++depth;
      if (s[i] == '}' && --depth == 0) {
        open = p + n;
        close = i;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string careful_math_string(const std::string& answer) {
  std::string s = normalise_number_text(answer);  // "{,}", "\,", U+2212
  s = strip_ws(s);
  if (starts(s, '$') && s.find('$', 1) == std::string::npos) s.erase(0, 1);  // "$12" as money
  s = strip_math_string(s);
  // units after a number: "12\text{cm}", "5\mbox{ meters}^2"
  for (size_t p = s.find('\\'); p != std::string::npos; p = s.find('\\', p + 1)) {
    size_t open, close;
    if (p == 0 || !text_command_at(s, p, open, close)) continue;
    bool units = digit(s[p - 1]) || s[p - 1] == '}';
    for (size_t i = open; i < close && units; ++i) units = letter(s[i]) || s[i] == ' ' || s[i] == '.';
    std::string tail = s.substr(close + 1);
    if (units && (tail.empty() || tail == "^2" || tail == "^3" || tail == "^{2}" || tail == "^{3}")) {
      s.erase(p);
      break;
    }
  }
  // \text{X} -> X
  for (size_t p = s.find('\\'); p != std::string::npos; p = s.find('\\', p)) {
    size_t open, close;
    if (!text_command_at(s, p, open, close)) {
      ++p;
      continue;
    }
    s = s.substr(0, p) + s.substr(open, close - open) + s.substr(close + 1);
  }
  // mixed numbers: an integer directly before \frac{a}{b} with integers a < b
  for (size_t p = s.find("\\frac{"); p != std::string::npos; p = s.find("\\frac{", p + 1)) {
    size_t d = p;
    while (d > 0 && digit(s[d - 1])) --d;
    if (d == p) continue;
    if (d > 0 && (letter(s[d - 1]) || s[d - 1] == '^' || s[d - 1] == '_' || s[d - 1] == '.' || s[d - 1] == '}' ||
                  s[d - 1] == ')' || s[d - 1] == '\\'))
      continue;
    size_t a0 = p + 6, a1 = s.find('}', a0);
    if (a1 == std::string::npos || a1 + 1 >= s.size() || s[a1 + 1] != '{') continue;
    size_t b0 = a1 + 2, b1 = s.find('}', b0);
    if (b1 == std::string::npos) continue;
    std::string whole = s.substr(d, p - d), num = s.substr(a0, a1 - a0), den = s.substr(b0, b1 - b0);
    auto all_digits = [](const std::string& x) {
      return !x.empty() && x.size() < 10 && std::all_of(x.begin(), x.end(), digit);
    };
    if (!all_digits(num) || !all_digits(den) || std::stoll(num) >= std::stoll(den)) continue;
    std::string repl = "(" + whole + "+\\frac{" + num + "}{" + den + "})";
    s = s.substr(0, d) + repl + s.substr(b1 + 1);
    p = d + repl.size() - 1;
  }
  return s;
}

MathEquivalence math_equal(const std::string& pred_in, const std::string& ref_in, double symbolic_rel,
                           bool reference_rules) {
  if (pred_in == ref_in) return MathEquivalence::equal;
  auto pd = parse_digits(pred_in, reference_rules), rd = parse_digits(ref_in, reference_rules);
  if (pd && rd) {
    if (!reference_rules) return isclose(*rd, *pd, 1e-9) ? MathEquivalence::equal : MathEquivalence::different;
    for (double item : {*rd / 100, *rd, *rd * 100})
      if (isclose(item, *pd, 1e-4)) return MathEquivalence::equal;
    return MathEquivalence::different;
  }
  if (pred_in.empty()) return MathEquivalence::different;
  std::string reference = strip_ws(ref_in), prediction = strip_ws(pred_in);
  // unordered answer lists: "-2,1" vs "1,-2" (no brackets: the solutions of an equation, not a tuple)
  if (!reference_rules) {
    auto bracketed = [](const std::string& x) { return starts(x, '(') || starts(x, '[') || starts(x, '{'); };
    auto pl = split_top_level(prediction), rl = split_top_level(reference);
    if (rl.size() + pl.size() >= 3 && !bracketed(reference) && !bracketed(prediction)) {
      if (pl.size() != rl.size()) return MathEquivalence::different;
      std::vector<bool> used(rl.size(), false);
      bool any_unknown = false;
      for (auto& p : pl) {
        bool found = false;
        for (size_t k = 0; k < rl.size() && !found; ++k) {
          if (used[k]) continue;
          auto r = math_equal(drop_short_lhs(strip_ws(p)), drop_short_lhs(strip_ws(rl[k])), symbolic_rel, false);
          if (r == MathEquivalence::equal) used[k] = found = true;
          if (r == MathEquivalence::unknown) any_unknown = true;
        }
        if (!found) return any_unknown ? MathEquivalence::unknown : MathEquivalence::different;
      }
      return MathEquivalence::equal;
    }
  }
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
        auto r = math_equal(pp[i], rp[i], symbolic_rel, reference_rules);
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
                          double symbolic_rel, bool reference_rules) {
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
  v.pred_norm = reference_rules ? strip_math_string(*prediction) : careful_math_string(*prediction);
  v.ref_norm = reference_rules ? strip_math_string(*reference) : careful_math_string(*reference);
  if (v.pred_norm == v.ref_norm) {
    v.result = MathEquivalence::equal;
    v.how = "string";
    return v;
  }
  v.result = math_equal(v.pred_norm, v.ref_norm, symbolic_rel, reference_rules);
  // "75\%" for 0.75: with an explicit percent sign both readings (75 and 0.75) are the same answer
  std::string raw = strip_chars(*prediction, " \t\r\n$.");
  if (!reference_rules && v.result != MathEquivalence::equal && ends(raw, '%')) {
    if (auto pv = parse_digits(v.pred_norm, false)) {
      auto rv = parse_digits(v.ref_norm, false);
      if (rv && isclose(*pv / 100, *rv, 1e-9)) {
        v.result = MathEquivalence::equal;
        v.how = "percent";
        return v;
      }
    }
  }
  v.how = v.result == MathEquivalence::unknown ? "needs sympy" : "math_equal";
  return v;
}

}  // namespace t2::tasks
