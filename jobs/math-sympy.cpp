#include "jobs/math-sympy.h"

#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/subprocess.h"

namespace t2::tasks {

namespace {

// The helper: reads {"a","b","limit"} JSON lines, writes one word per line (equal/different/unknown).
// Mirrors the reference's symbolic_equal: parse_latex (if antlr is present) or parse_expr after a
// light LaTeX rewrite, then simplify(a - b) == 0, else N(a) close to N(b) at the given relative
// tolerance (the reference: 1e-3).
const char* kHelper = R"PY(
import sys, json, re, signal, math
import sympy
from sympy.parsing.sympy_parser import parse_expr, standard_transformations, implicit_multiplication_application, convert_xor
T = standard_transformations + (implicit_multiplication_application, convert_xor)
try:
    from sympy.parsing.latex import parse_latex
    parse_latex("1")
except Exception:
    parse_latex = None
class Limit(Exception): pass
def on_alarm(*a): raise Limit()
signal.signal(signal.SIGALRM, on_alarm)
def rewrite(s):
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/").replace("\\pi", "pi")
    s = s.replace("\\infty", "oo").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\\sqrt\[([^\]]*)\]", r"root_\1", s)
    s = s.replace("{", "(").replace("}", ")")
    for _ in range(20):
        t = re.sub(r"\\frac\(([^()]*)\)\(([^()]*)\)", r"((\1)/(\2))", s)
        if t == s: break
        s = t
    s = s.replace("\\sqrt", "sqrt").replace("\\", "")
    return s
def parse(s):
    if parse_latex is not None:
        try: return parse_latex(s)
        except Exception: pass
    return parse_expr(rewrite(s), transformations=T, evaluate=True)
def equal(a, b, rel):
    x = parse(a); y = parse(b)
    try:
        if sympy.simplify(x - y) == 0: return "equal"
    except Exception: pass
    try:
        xv = complex(sympy.N(x)); yv = complex(sympy.N(y))
        return "equal" if abs(xv - yv) <= rel * max(abs(xv), abs(yv)) else "different"
    except Exception: pass
    return "different"
for line in sys.stdin:
    req = json.loads(line)
    try:
        signal.setitimer(signal.ITIMER_REAL, req["limit"])
        out = equal(req["a"], req["b"], req["rel"])
    except BaseException:
        out = "unknown"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
)PY";

}  // namespace

const std::string& sympy_status(const std::string& python) {
  static std::mutex mu;
  static std::string status;
  static bool checked = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!checked) {
    checked = true;
    try {
      SubprocessOptions o;
      o.timeout = Seconds(30);
      auto r = run_subprocess({python, "-c", "import sympy"}, o);
      if (!r.ok()) status = python + " cannot import sympy (" + r.describe() + ")";
    } catch (const std::exception& e) {
      status = python + " cannot be started: " + e.what();
    }
    if (!status.empty())
      spdlog::warn("MATH symbolic equivalence: {}; pairs that C++ cannot decide count as not equal", status);
  }
  return status;
}

std::vector<MathEquivalence> sympy_equal_batch(const std::vector<SympyPair>& pairs, const std::string& python,
                                               Seconds per_pair, double rel) {
  std::vector<MathEquivalence> out(pairs.size(), MathEquivalence::unknown);
  if (pairs.empty() || !sympy_status(python).empty()) return out;
  std::string input;
  for (auto& p : pairs)
    input += nlohmann::json{{"a", p.prediction}, {"b", p.reference}, {"limit", per_pair.count()}, {"rel", rel}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
  SubprocessOptions o;
  o.stdin_data = input;
  o.timeout = Seconds(30) + per_pair * double(pairs.size());
  auto r = run_subprocess({python, "-c", kHelper}, o);
  if (!r.ok()) spdlog::warn("sympy helper: {}: {}", r.describe(), r.err.substr(0, 500));
  size_t i = 0, pos = 0;
  while (i < out.size() && pos < r.out.size()) {
    size_t e = r.out.find('\n', pos);
    if (e == std::string::npos) break;
    std::string w = r.out.substr(pos, e - pos);
    out[i++] = w == "equal" ? MathEquivalence::equal : w == "different" ? MathEquivalence::different
                                                                        : MathEquivalence::unknown;
    pos = e + 1;
  }
  return out;
}

}  // namespace t2::tasks
