#include "jobs/sandbox-harness.h"

#include <numeric>
#include <random>

#include "core/check.h"

namespace t2::tasks {

namespace {

const char* kHarness = R"PY(import sys, os, json, time, base64, signal, builtins, copy, math
_t2 = json.loads(base64.b64decode('@SPEC@').decode('utf-8'))
_t2_fd = 3
def _t2_report(obj):
    data = (_t2['nonce'] + ' ' + json.dumps(obj) + '\n').encode()
    try:
        os.write(_t2_fd, data)
    except OSError:
        pass
class _T2Timeout(BaseException):
    pass
def _t2_alarm(signum, frame):
    raise _T2Timeout()
signal.signal(signal.SIGALRM, _t2_alarm)
def _t2_limit(sec):
    if not _t2['measure_only']:
        signal.setitimer(signal.ITIMER_REAL, max(sec, 0.001))
def _t2_clear():
    signal.setitimer(signal.ITIMER_REAL, 0)
def _t2_close(out, exp, atol):
    if isinstance(exp, float) or isinstance(out, float):
        if isinstance(out, (int, float)) and isinstance(exp, (int, float)) and not isinstance(out, bool):
            if math.isnan(exp) and math.isnan(out):
                return True
            return math.isclose(out, exp, rel_tol=1e-7, abs_tol=max(atol, 1e-6))
        return False
    if isinstance(exp, (list, tuple)) and isinstance(out, (list, tuple)):
        return type(exp) == type(out) and len(exp) == len(out) and all(_t2_close(a, b, atol) for a, b in zip(out, exp))
    return out == exp
_t2_g = {'__name__': '__main__', '__builtins__': builtins}
_t2_stage = -1
_t2_times = []
try:
    _t2_limit(_t2['solution_limit'])
    exec(compile(_t2['solution'], 'solution.py', 'exec'), _t2_g)
    _t2_clear()
    for _t2_stage, (_t2_src, _t2_lim) in enumerate(zip(_t2['tests'], _t2['limits'])):
        _t2_code = compile(_t2_src, 'test_%d.py' % _t2_stage, 'exec')
        _t2_t0 = time.perf_counter()
        _t2_limit(_t2_lim)
        exec(_t2_code, _t2_g)
        _t2_clear()
        _t2_times.append(time.perf_counter() - _t2_t0)
    if _t2['inputs']:
        _t2_ref = {'__name__': 't2_reference', '__builtins__': builtins}
        exec(compile(_t2['reference'], 'reference.py', 'exec'), _t2_ref)
        _t2_rf = _t2_ref[_t2['entry_point']]
        _t2_cf = _t2_g[_t2['entry_point']]
        for _t2_stage, _t2_inp in enumerate(_t2['inputs']):
            _t2_t0 = time.perf_counter()
            _t2_exp = _t2_rf(*copy.deepcopy(_t2_inp))
            _t2_tref = time.perf_counter() - _t2_t0
            _t2_lim = max(_t2['min_limit'], _t2['limit_factor'] * _t2_tref)
            _t2_t0 = time.perf_counter()
            _t2_limit(_t2_lim)
            _t2_out = _t2_cf(*copy.deepcopy(_t2_inp))
            _t2_clear()
            _t2_times.append(time.perf_counter() - _t2_t0)
            if not _t2_close(_t2_out, _t2_exp, _t2['atol']):
                raise AssertionError('input %d: expected %r, got %r' % (_t2_stage, _t2_exp, _t2_out))
except _T2Timeout:
    _t2_report({'ok': False, 'stage': _t2_stage, 'status': 'timeout', 'error': 'time limit'})
    os._exit(1)
except BaseException as _t2_e:
    _t2_clear()
    _t2_report({'ok': False, 'stage': _t2_stage, 'status': 'failed', 'error': (type(_t2_e).__name__ + ': ' + str(_t2_e))[:400]})
    os._exit(1)
_t2_report({'ok': True, 'times': _t2_times})
sys.stdout.flush()
os._exit(0)
)PY";

std::string base64(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += tbl[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string make_nonce() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("T2-{:016x}{:016x}", rng(), rng());
}

}  // namespace

std::string build_harness(const CodeProgram& prog, const std::string& nonce) {
  T2_CHECK(prog.tests.size() == prog.test_limits.size(), "code program: {} tests but {} limits",
           prog.tests.size(), prog.test_limits.size());
  nlohmann::json spec = {{"nonce", nonce},
                         {"solution", prog.solution},
                         {"tests", prog.tests},
                         {"limits", prog.test_limits},
                         {"solution_limit", prog.solution_limit},
                         {"reference", prog.reference},
                         {"entry_point", prog.entry_point},
                         {"inputs", prog.inputs},
                         {"atol", prog.atol},
                         {"min_limit", prog.min_limit},
                         {"limit_factor", prog.limit_factor},
                         {"measure_only", prog.measure_only}};
  std::string text = kHarness;
  std::string enc = base64(spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  text.replace(text.find("@SPEC@"), 6, enc);
  return text;
}

CodeOutcome run_code_program(const Sandbox& sandbox, const CodeProgram& prog) {
  std::string nonce = make_nonce();
  SandboxLimits lim = sandbox.options().limits;
  double total = prog.solution_limit + std::accumulate(prog.test_limits.begin(), prog.test_limits.end(), 0.0) +
                 prog.wall_margin;
  // input/output tests: the reference runs too; bound by the summed per-input limits plus slack
  if (!prog.inputs.empty()) total += double(prog.inputs.size()) * (2 * prog.min_limit) + 10;
  if (prog.measure_only) total = std::max(total, 60.0);
  lim.wall = Seconds(total);
  CodeOutcome o;
  o.raw = sandbox.run_python({{"program.py", build_harness(prog, nonce)}}, prog.args, &lim);
  const auto& r = o.raw;
  // the verdict line: "<nonce> {json}"
  nlohmann::json verdict;
  bool have = false;
  for (size_t pos = 0; pos < r.result_channel.size();) {
    size_t e = r.result_channel.find('\n', pos);
    if (e == std::string::npos) e = r.result_channel.size();
    std::string line = r.result_channel.substr(pos, e - pos);
    pos = e + 1;
    if (line.rfind(nonce + " ", 0) != 0) continue;
    try {
      verdict = nlohmann::json::parse(line.substr(nonce.size() + 1));
      have = true;
    } catch (const std::exception&) {
    }
  }
  if (r.timed_out) {
    o.status = "timeout";
    o.error = r.describe();
    return o;
  }
  if (!have) {
    o.status = "error";
    o.error = "no verdict from the test harness: " + r.describe();
    if (!r.err.empty()) o.error += ": " + r.err.substr(r.err.size() > 400 ? r.err.size() - 400 : 0);
    return o;
  }
  if (verdict.value("ok", false) && r.ok()) {
    o.passed = true;
    o.status = "passed";
    for (auto& t : verdict.value("times", nlohmann::json::array())) o.test_seconds.push_back(t.get<double>());
    return o;
  }
  o.status = verdict.value("status", std::string("failed"));
  o.failed_test = verdict.value("stage", -1);
  o.error = verdict.value("error", r.describe());
  return o;
}

}  // namespace t2::tasks
