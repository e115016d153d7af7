#include "jobs/math-expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace t2::tasks {

struct MathExpr {
  enum Kind { num, var, neg, add, sub, mul, div, pow, sqrt, fact } kind;
  double value = 0;
  std::string name, text;
  std::unique_ptr<MathExpr> a, b;
};

namespace {

using Ptr = std::unique_ptr<MathExpr>;
struct ParseFail {};

Ptr make(MathExpr::Kind k, Ptr a = nullptr, Ptr b = nullptr) {
  auto e = std::make_unique<MathExpr>();
  e->kind = k;
  e->a = std::move(a);
  e->b = std::move(b);
  return e;
}

const std::set<std::string>& greek() {
  static const std::set<std::string> g = {"alpha", "beta", "gamma", "delta", "theta", "lambda", "mu",
                                          "phi", "omega", "sigma", "tau", "rho", "epsilon", "psi"};
  return g;
}

class Parser {
 public:
  Parser(const std::string& s, std::set<std::string>& vars) : s_(s), vars_(vars) {}

  Ptr parse_all() {
    Ptr e = expr();
    skip();
    if (i_ != s_.size()) throw ParseFail{};
    return e;
  }

 private:
  void skip() {
    for (;;) {
      while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
      if (starts("\\,") || starts("\\;") || starts("\\ ")) i_ += 2;
      else if (starts("\\left")) i_ += 5;
      else if (starts("\\right")) i_ += 6;
      else return;
    }
  }
  bool starts(const char* t) const { return s_.compare(i_, std::char_traits<char>::length(t), t) == 0; }
  bool eat(const char* t) {
    skip();
    if (!starts(t)) return false;
    i_ += std::char_traits<char>::length(t);
    return true;
  }
  bool command_is(const char* name) const {
    // "\pi" but not "\pix...": the command name ends at a non-letter
    size_t n = std::char_traits<char>::length(name);
    if (s_.compare(i_, n, name) != 0) return false;
    return i_ + n >= s_.size() || !std::isalpha(static_cast<unsigned char>(s_[i_ + n]));
  }

  Ptr expr() {
    Ptr e = term();
    for (;;) {
      if (eat("+")) e = make(MathExpr::add, std::move(e), term());
      else if (eat("-")) e = make(MathExpr::sub, std::move(e), term());
      else return e;
    }
  }
  bool at_factor_start() {
    skip();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (std::isdigit(static_cast<unsigned char>(c)) || std::isalpha(static_cast<unsigned char>(c)) || c == '(' ||
        c == '{' || c == '.')
      return true;
    if (c == '\\') {
      for (const char* cmd : {"\\frac", "\\sqrt", "\\pi", "\\cdot", "\\times", "\\div"})
        if (command_is(cmd)) return std::string(cmd) != "\\cdot" && std::string(cmd) != "\\times" &&
                                    std::string(cmd) != "\\div";
      for (auto& g : greek())
        if (command_is(("\\" + g).c_str())) return true;
    }
    return false;
  }
  Ptr term() {
    Ptr e = unary();
    for (;;) {
      skip();
      if (eat("*") || (command_is("\\cdot") && (i_ += 5)) || (command_is("\\times") && (i_ += 6)))
        e = make(MathExpr::mul, std::move(e), unary());
      else if (eat("/") || (command_is("\\div") && (i_ += 4)))
        e = make(MathExpr::div, std::move(e), unary());
      else if (at_factor_start())
        e = make(MathExpr::mul, std::move(e), power());  // implicit multiplication
      else
        return e;
    }
  }
  Ptr unary() {
    if (eat("-")) return make(MathExpr::neg, unary());
    if (eat("+")) return unary();
    return power();
  }
  Ptr power() {
    Ptr base = primary();
    for (;;) {
      if (eat("!")) {
        base = make(MathExpr::fact, std::move(base));
        continue;
      }
      if (eat("^")) {
        skip();
        Ptr ex;
        if (i_ < s_.size() && s_[i_] == '{') ex = group();
        else if (eat("-")) ex = make(MathExpr::neg, primary_single());
        else ex = primary_single();
        base = make(MathExpr::pow, std::move(base), std::move(ex));
        continue;
      }
      return base;
    }
  }
  Ptr group() {
    skip();
    if (!eat("{")) throw ParseFail{};
    Ptr e = expr();
    if (!eat("}")) throw ParseFail{};
    return e;
  }
  Ptr number() {
    size_t st = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) ++i_;
    std::string t = s_.substr(st, i_ - st);
    if (t.empty() || t.find('.') != t.rfind('.') || t == ".") throw ParseFail{};
    auto e = make(MathExpr::num);
    e->value = std::stod(t[0] == '.' ? "0" + t : t);
    e->text = t;
    return e;
  }
  Ptr variable(const std::string& name) {
    vars_.insert(name);
    auto e = make(MathExpr::var);
    e->name = name;
    return e;
  }
  // one character (or command) as an exponent/argument without braces: "x^2", "\sqrt3"
  Ptr primary_single() {
    skip();
    if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      auto e = make(MathExpr::num);
      e->value = s_[i_] - '0';
      e->text = std::string(1, s_[i_]);
      ++i_;
      return e;
    }
    return primary();
  }
  Ptr primary() {
    skip();
    if (i_ >= s_.size()) throw ParseFail{};
    char c = s_[i_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (c == '(') {
      ++i_;
      Ptr e = expr();
      if (!eat(")")) throw ParseFail{};
      return e;
    }
    if (c == '{') return group();
    if (std::isalpha(static_cast<unsigned char>(c))) {
      ++i_;
      if (i_ < s_.size() && s_[i_] == '_') throw ParseFail{};  // subscripts: not supported
      return variable(std::string(1, c));
    }
    if (c == '\\') {
      if (command_is("\\frac")) {
        i_ += 5;
        Ptr n = group();
        Ptr d = group();
        return make(MathExpr::div, std::move(n), std::move(d));
      }
      if (command_is("\\sqrt")) {
        i_ += 5;
        skip();
        Ptr index;
        if (eat("[")) {
          index = expr();
          if (!eat("]")) throw ParseFail{};
        }
        skip();
        Ptr arg = (i_ < s_.size() && s_[i_] == '{') ? group() : primary_single();
        if (!index) return make(MathExpr::sqrt, std::move(arg));
        auto one = make(MathExpr::num);
        one->value = 1;
        one->text = "1";
        return make(MathExpr::pow, std::move(arg), make(MathExpr::div, std::move(one), std::move(index)));
      }
      if (command_is("\\pi")) {
        i_ += 3;
        auto e = make(MathExpr::num);
        e->value = M_PI;
        e->text = "pi";
        return e;
      }
      for (auto& g : greek())
        if (command_is(("\\" + g).c_str())) {
          i_ += 1 + g.size();
          return variable(g);
        }
    }
    throw ParseFail{};
  }

  const std::string& s_;
  size_t i_ = 0;
  std::set<std::string>& vars_;
};

double eval(const MathExpr& e, const std::map<std::string, double>& v) {
  switch (e.kind) {
    case MathExpr::num: return e.value;
    case MathExpr::var: {
      auto it = v.find(e.name);
      return it == v.end() ? NAN : it->second;
    }
    case MathExpr::neg: return -eval(*e.a, v);
    case MathExpr::add: return eval(*e.a, v) + eval(*e.b, v);
    case MathExpr::sub: return eval(*e.a, v) - eval(*e.b, v);
    case MathExpr::mul: return eval(*e.a, v) * eval(*e.b, v);
    case MathExpr::div: {
      double d = eval(*e.b, v);
      return d == 0 ? NAN : eval(*e.a, v) / d;
    }
    case MathExpr::pow: return std::pow(eval(*e.a, v), eval(*e.b, v));
    case MathExpr::sqrt: {
      double x = eval(*e.a, v);
      return x < 0 ? NAN : std::sqrt(x);
    }
    case MathExpr::fact: {
      double x = eval(*e.a, v);
      return (x < 0 || x > 170 || x != std::floor(x)) ? NAN : std::tgamma(x + 1);
    }
  }
  return NAN;
}

std::string sympy(const MathExpr& e) {
  switch (e.kind) {
    case MathExpr::num: return e.text == "pi" ? "pi" : "Rational('" + e.text + "')";
    case MathExpr::var: return "Symbol('" + e.name + "')";
    case MathExpr::neg: return "(-" + sympy(*e.a) + ")";
    case MathExpr::add: return "(" + sympy(*e.a) + "+" + sympy(*e.b) + ")";
    case MathExpr::sub: return "(" + sympy(*e.a) + "-" + sympy(*e.b) + ")";
    case MathExpr::mul: return "(" + sympy(*e.a) + "*" + sympy(*e.b) + ")";
    case MathExpr::div: return "(" + sympy(*e.a) + "/" + sympy(*e.b) + ")";
    case MathExpr::pow: return "(" + sympy(*e.a) + "**" + sympy(*e.b) + ")";
    case MathExpr::sqrt: return "sqrt(" + sympy(*e.a) + ")";
    case MathExpr::fact: return "factorial(" + sympy(*e.a) + ")";
  }
  return "";
}

}  // namespace

ParsedMath::ParsedMath() = default;
ParsedMath::~ParsedMath() = default;
ParsedMath::ParsedMath(ParsedMath&&) noexcept = default;
ParsedMath& ParsedMath::operator=(ParsedMath&&) noexcept = default;

std::optional<ParsedMath> ParsedMath::parse(const std::string& latex) {
  if (latex.empty() || latex.size() > 2000) return std::nullopt;
  ParsedMath p;
  try {
    Parser ps(latex, p.vars_);
    p.root_ = ps.parse_all();
  } catch (const ParseFail&) {
    return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return p;
}

double ParsedMath::evaluate(const std::map<std::string, double>& values) const { return eval(*root_, values); }

std::string ParsedMath::to_sympy() const { return sympy(*root_); }

MathEquivalence compare_parsed(const ParsedMath& a, const ParsedMath& b, double rel) {
  auto close = [&](double x, double y) {
    return std::fabs(x - y) <= rel * std::max(std::fabs(x), std::fabs(y)) || std::fabs(x - y) < 1e-12;
  };
  std::set<std::string> vars = a.variables();
  vars.insert(b.variables().begin(), b.variables().end());
  if (vars.empty()) {
    double x = a.evaluate(), y = b.evaluate();
    if (!std::isfinite(x) || !std::isfinite(y)) return MathEquivalence::unknown;
    return close(x, y) ? MathEquivalence::equal : MathEquivalence::different;
  }
  // Random-point identity test: fixed points, so verdicts are reproducible.
  static const double pts[] = {0.5377, 1.8339, 2.2588, 0.8622, 1.3188, 3.3077, 0.4336, 1.3426, 2.5784, 2.7694};
  int agreed = 0;
  for (int trial = 0; trial < 6; ++trial) {
    std::map<std::string, double> val;
    int k = 0;
    for (auto& v : vars) val[v] = pts[(trial * 3 + k++) % 10] + 0.1 * trial;
    double x = a.evaluate(val), y = b.evaluate(val);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    if (!(std::fabs(x - y) <= 1e-6 * std::max({1.0, std::fabs(x), std::fabs(y)}))) return MathEquivalence::different;
    ++agreed;
  }
  return agreed >= 3 ? MathEquivalence::equal : MathEquivalence::unknown;
}

}  // namespace t2::tasks
