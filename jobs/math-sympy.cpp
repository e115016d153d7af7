#include "jobs/math-sympy.h"

#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "jobs/sandbox.h"

namespace t2::tasks {

namespace {

// The helper: reads {"a","b","limit","rel"} JSON lines on stdin, writes one word per line
// (equal/different/unknown). Mirrors the reference's symbolic_equal: parse_latex (if antlr is
// present) or parse_expr after a light LaTeX rewrite, then simplify(a - b) == 0, else N(a) close to
// N(b) at the given relative tolerance (the reference: 1e-3). It runs inside the code sandbox, and
// parse_expr (which evaluates Python) only ever sees a rewritten answer whose tokens are numbers,
// arithmetic operators, parentheses, commas and plain names that are no Python builtin: no strings,
// no attribute access, no subscripts, no keywords, no dunder names. Anything else is "unknown".
const char* kHelper = R"PY(
import sys, json, re, signal, math, io, keyword, tokenize, builtins
import sympy
from sympy.parsing.sympy_parser import parse_expr, standard_transformations, implicit_multiplication_application, convert_xor
T = standard_transformations + (implicit_multiplication_application, convert_xor)
try:
    from sympy.parsing.latex import parse_latex
    parse_latex("1")
except Exception:
    parse_latex = None
SYMPY_NAMES = set(dir(sympy))
BUILTIN_NAMES = set(dir(builtins))
SAFE_OPS = {'+', '-', '*', '/', '**', '^', '(', ')', ',', '!', '%'}
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
def safe(s):
    if len(s) > 2000 or '\n' in s or '\r' in s:
        return False
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(s).readline))
    except Exception:
        return False
    for t in toks:
        if t.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.NUMBER):
            continue
        if t.type == tokenize.NAME:
            n = t.string
            if n.startswith('_') or keyword.iskeyword(n) or (n in BUILTIN_NAMES and n not in SYMPY_NAMES):
                return False
            continue
        if t.type == tokenize.OP and t.string in SAFE_OPS:
            continue
        if t.type == tokenize.ERRORTOKEN and t.string.strip() in ('', '!'):
            continue
        return False
    return True
def parse(s):
    if parse_latex is not None:
        try: return parse_latex(s)
        except Exception: pass
    r = rewrite(s)
    if not safe(r):
        raise ValueError("not a plain arithmetic expression")
    return parse_expr(r, transformations=T, evaluate=True)
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

// One sandbox per (python, isolation), built on first use; nullptr with `why` when it cannot be.
const Sandbox* sympy_sandbox(const SandboxOptions& opt, std::string* why) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, std::pair<std::unique_ptr<Sandbox>, std::string>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(opt.python, int(opt.isolation));
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::unique_ptr<Sandbox> sb;
    std::string err;
    try {
      sb = std::make_unique<Sandbox>(opt);
    } catch (const std::exception& e) {
      err = e.what();
    }
    it = cache.emplace(key, std::make_pair(std::move(sb), err)).first;
  }
  if (why) *why = it->second.second;
  return it->second.first.get();
}

}  // namespace

const std::string& sympy_status(const SandboxOptions& sandbox) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, std::string> statuses;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(sandbox.python, int(sandbox.isolation));
  auto it = statuses.find(key);
  if (it != statuses.end()) return it->second;
  std::string status;
  std::string why;
  const Sandbox* sb = sympy_sandbox(sandbox, &why);
  if (!sb) {
    status = "the sandbox it runs in is unavailable: " + why;
  } else {
    SandboxLimits lim = sb->options().limits;
    lim.wall = Seconds(60);
    auto r = sb->run_python({{"check.py", "import sympy\n"}}, {}, &lim);
    if (!r.ok()) status = sandbox.python + " cannot import sympy in the sandbox (" + r.describe() + "): " + r.err.substr(0, 300);
  }
  if (!status.empty())
    spdlog::warn("MATH symbolic equivalence: {}; pairs that C++ cannot decide count as not equal", status);
  return statuses.emplace(key, status).first->second;
}

std::vector<MathEquivalence> sympy_equal_batch(const std::vector<SympyPair>& pairs, const SandboxOptions& sandbox,
                                               Seconds per_pair, double rel) {
  std::vector<MathEquivalence> out(pairs.size(), MathEquivalence::unknown);
  if (pairs.empty() || !sympy_status(sandbox).empty()) return out;
  const Sandbox* sb = sympy_sandbox(sandbox, nullptr);
  std::string input;
  for (auto& p : pairs)
    input += nlohmann::json{{"a", p.prediction}, {"b", p.reference}, {"limit", per_pair.count()}, {"rel", rel}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
  SandboxLimits lim = sb->options().limits;
  lim.wall = Seconds(30) + per_pair * double(pairs.size());
  lim.cpu_seconds = lim.wall.count() + 1;
  auto r = sb->run_python({{"sympy_equal.py", kHelper}}, {}, &lim, input);
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
