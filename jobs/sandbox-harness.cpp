#include "jobs/sandbox-harness.h"

#include <numeric>
#include <random>

#include "core/check.h"

namespace t2::tasks {

namespace {

const char* kHarness = R"PY(import sys, os, io, json, time, base64, signal, builtins, copy, math, pickle, struct, importlib, collections
# t2's test harness. This process (the judge) never runs the candidate's code: it forks the candidate
# process first, then reads the specification (tests, nonce) from stdin, which the candidate never
# sees, sends the candidate only its solution, runs the tests here with every name the solution
# defines replaced by a proxy that calls into the candidate process, and decodes each returned value
# into plain built-in data (no user-defined __eq__ can take part in a comparison). The verdict goes
# to fd 3, which the candidate process closes before anything of the solution runs; this process is
# not dumpable, so the candidate cannot reach its memory or its file descriptors through /proc or
# ptrace.
if hasattr(sys, 'set_int_max_str_digits'):
    sys.set_int_max_str_digits(0)
sys.setrecursionlimit(10000)
_T2_MAX_MSG = 256 << 20

def _t2_readn(fd, n):
    buf = bytearray()
    while len(buf) < n:
        b = os.read(fd, min(n - len(buf), 1 << 20))
        if not b:
            return None
        buf += b
    return bytes(buf)

def _t2_send(fd, data):
    data = struct.pack('>I', len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]

def _t2_recv(fd):
    h = _t2_readn(fd, 4)
    if h is None:
        return None
    n = struct.unpack('>I', h)[0]
    if n > _T2_MAX_MSG:
        raise _T2Broken('the program sent %d bytes' % n)
    return _t2_readn(fd, n)

class _T2Broken(BaseException):
    pass

_t2_refs = []
_T2_FACTORIES = {'list': list, 'int': int, 'set': set, 'dict': dict, 'str': str, 'float': float, 'tuple': tuple}

def _t2_encode(v):
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if t is list:
        return {'l': [_t2_encode(x) for x in v]}
    if t is tuple:
        return {'t': [_t2_encode(x) for x in v]}
    if t is dict:
        return {'d': [[_t2_encode(k), _t2_encode(x)] for k, x in v.items()]}
    if t is set:
        return {'s': [_t2_encode(x) for x in v]}
    if t is frozenset:
        return {'f': [_t2_encode(x) for x in v]}
    if t is bytes:
        return {'b': base64.b64encode(v).decode()}
    if t is complex:
        return {'c': [v.real, v.imag]}
    if t is collections.Counter:
        return {'C': [[_t2_encode(k), _t2_encode(x)] for k, x in v.items()]}
    if t is collections.OrderedDict:
        return {'O': [[_t2_encode(k), _t2_encode(x)] for k, x in v.items()]}
    if t is collections.deque:
        return {'Q': [_t2_encode(x) for x in v]}
    if t is collections.defaultdict:
        f = next((n for n, c in _T2_FACTORIES.items() if v.default_factory is c), None)
        return {'D': [f] + [[_t2_encode(k), _t2_encode(x)] for k, x in v.items()]}
    # anything else stays in the candidate process: the judge gets a reference it can pass back,
    # call, or read attributes of, which equals only itself
    try:
        truth = bool(v)
    except BaseException:
        truth = None
    _t2_refs.append(v)
    return {'r': [len(_t2_refs) - 1, t.__name__[:100], truth]}

class _T2Ref:
    # a value that stayed in the candidate process (judge side): equal only to itself
    __slots__ = ('_t2_id', '_t2_type', '_t2_truth')
    def __init__(self, i, tn, truth):
        object.__setattr__(self, '_t2_id', i)
        object.__setattr__(self, '_t2_type', tn)
        object.__setattr__(self, '_t2_truth', truth)
    def __bool__(self):
        if self._t2_truth is None:
            raise TypeError('the truth of a %s object of the program is undefined' % self._t2_type)
        return self._t2_truth
    def __getattr__(self, name):
        return _t2_rpc(['getattr', self._t2_id, name])
    def __setattr__(self, name, value):
        _t2_rpc(['setattr', self._t2_id, name, value])
    def __call__(self, *args, **kwargs):
        return _t2_rpc(['callref', self._t2_id, args, kwargs])
    def __iter__(self):
        return iter(_t2_rpc(['list', self._t2_id]))
    def __repr__(self):
        return '<%s object of the program>' % self._t2_type

class _T2Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ('r', obj._t2_id) if type(obj) is _T2Ref else None

class _T2Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return _t2_refs[pid[1]]

_t2_rpc = None  # the judge's call into the candidate process

def _t2_decode(v):
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if t is dict and len(v) == 1:
        k, x = next(iter(v.items()))
        if k == 'b' and type(x) is str:
            return base64.b64decode(x, validate=True)
        if type(x) is list:
            if k == 'l':
                return [_t2_decode(y) for y in x]
            if k == 't':
                return tuple(_t2_decode(y) for y in x)
            if k == 's':
                return set(_t2_decode(y) for y in x)
            if k == 'f':
                return frozenset(_t2_decode(y) for y in x)
            if k == 'd' and all(type(p) is list and len(p) == 2 for p in x):
                return {_t2_decode(a): _t2_decode(b) for a, b in x}
            if k == 'c' and len(x) == 2 and all(type(y) in (int, float) for y in x):
                return complex(x[0], x[1])
            if k in ('C', 'O', 'D'):
                pairs = x[1:] if k == 'D' else x
                if not all(type(p) is list and len(p) == 2 for p in pairs):
                    raise _T2Broken('malformed value from the program')
                if k == 'D':
                    f = x[0] if x else None
                    d = collections.defaultdict(_T2_FACTORIES[f] if f in _T2_FACTORIES else None)
                else:
                    d = collections.Counter() if k == 'C' else collections.OrderedDict()
                for a, b in pairs:
                    d[_t2_decode(a)] = _t2_decode(b)
                return d
            if k == 'Q':
                return collections.deque(_t2_decode(y) for y in x)
            if k == 'r' and len(x) == 3 and type(x[0]) is int and type(x[1]) is str and x[2] in (True, False, None):
                return _T2Ref(x[0], x[1], x[2])
    raise _T2Broken('malformed value from the program')

def _t2_flush():
    # the judge ends the candidate with SIGKILL: what it printed so far reaches t2 now
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass

def _t2_child(rfd, wfd):
    # the candidate process: no verdict channel, no specification, stdin from /dev/null
    os.close(3)
    nul = os.open('/dev/null', os.O_RDONLY)
    os.dup2(nul, 0)
    os.close(nul)
    def reply(obj):
        _t2_send(wfd, json.dumps(obj).encode())
    src = _t2_recv(rfd)
    if src is None:
        os._exit(1)
    g = {'__name__': '__main__', '__builtins__': builtins}
    try:
        exec(compile(src.decode('utf-8'), 'solution.py', 'exec'), g)
    except BaseException as e:
        _t2_flush()
        reply(['error', type(e).__name__, str(e)[:400]])
        os._exit(1)
    _t2_flush()
    names = {}
    for k, v in list(g.items()):
        if type(k) is not str or k.startswith('__'):
            continue
        if isinstance(v, type(os)):
            names[k] = ['module', getattr(v, '__name__', '')]
        elif callable(v):
            names[k] = ['callable']
        else:
            try:
                names[k] = ['value', _t2_encode(v)]
            except Exception:
                pass
    reply(['ready', names])
    while True:
        req = _t2_recv(rfd)
        if req is None:
            os._exit(0)
        try:
            r = _T2Unpickler(io.BytesIO(req)).load()
            op = r[0]
            if op == 'call':
                v = g[r[1]](*r[2], **r[3])
            elif op == 'callref':
                v = _t2_refs[r[1]](*r[2], **r[3])
            elif op == 'getattr':
                v = getattr(_t2_refs[r[1]], r[2])
            elif op == 'setattr':
                v = setattr(_t2_refs[r[1]], r[2], r[3])
            else:
                v = list(_t2_refs[r[1]])
            out = ['ok', _t2_encode(v)]
        except BaseException as e:
            out = ['exc', type(e).__name__, str(e)[:400]]
        _t2_flush()
        try:
            reply(out)
        except BaseException as e:
            reply(['exc', type(e).__name__, str(e)[:400]])

def _t2_judge():
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_DUMPABLE)')
    c2p_r, c2p_w = os.pipe()
    p2c_r, p2c_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(c2p_r)
            os.close(p2c_w)
            _t2_child(p2c_r, c2p_w)
        finally:
            os._exit(1)
    os.close(c2p_w)
    os.close(p2c_r)
    spec = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    nul = os.open('/dev/null', os.O_RDONLY)
    os.dup2(nul, 0)
    os.close(nul)
    broken = []

    def report(obj, code):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.write(3, (spec['nonce'] + ' ' + json.dumps(obj) + '\n').encode())
        os._exit(code)

    class Timeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise Timeout()
    signal.signal(signal.SIGALRM, on_alarm)

    def limit(sec):
        if not spec['measure_only']:
            signal.setitimer(signal.ITIMER_REAL, max(sec, 0.001))

    def clear():
        signal.setitimer(signal.ITIMER_REAL, 0)

    def receive():
        msg = _t2_recv(c2p_r)
        if msg is None:
            broken.append(1)
            raise _T2Broken('the program exited')
        try:
            m = json.loads(msg.decode('utf-8'))
        except Exception:
            m = None
        if type(m) is not list or not m or type(m[0]) is not str:
            broken.append(1)
            raise _T2Broken('malformed message from the program')
        return m

    def call(name, args, kwargs):
        return rpc(['call', name, args, kwargs])

    def rpc(req):
        try:
            buf = io.BytesIO()
            _T2Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(req)
            data = buf.getvalue()
        except Exception as e:
            raise TypeError('the test passes an argument the sandbox cannot send: %s' % e)
        try:
            _t2_send(p2c_w, data)
        except OSError:
            broken.append(1)
            raise _T2Broken('the program exited')
        m = receive()
        if m[0] == 'ok' and len(m) == 2:
            try:
                return _t2_decode(m[1])
            except _T2Broken:
                broken.append(1)
                raise
            except Exception as e:
                broken.append(1)
                raise _T2Broken('malformed value from the program: %s' % type(e).__name__)
        if m[0] == 'exc' and len(m) == 3 and type(m[1]) is str and type(m[2]) is str:
            cls = getattr(builtins, m[1], None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                try:
                    err = cls(m[2])
                except Exception:
                    err = RuntimeError(m[1] + ': ' + m[2])
                raise err
            raise RuntimeError(m[1] + ': ' + m[2])
        broken.append(1)
        raise _T2Broken('malformed reply from the program')

    global _t2_rpc
    _t2_rpc = rpc

    def proxy(name):
        def f(*args, **kwargs):
            return call(name, args, kwargs)
        f.__name__ = f.__qualname__ = name
        return f

    def same(out, exp, atol):
        if type(exp) is float or type(out) is float:
            if type(out) in (int, float) and type(exp) in (int, float):
                if math.isnan(exp) and math.isnan(out):
                    return True
                return math.isclose(out, exp, rel_tol=1e-7, abs_tol=max(atol, 1e-6))
            return False
        if type(out) is not type(exp):
            return False
        if type(exp) in (list, tuple):
            return len(exp) == len(out) and all(same(a, b, atol) for a, b in zip(out, exp))
        if type(exp) is dict:
            return out.keys() == exp.keys() and all(same(out[k], exp[k], atol) for k in exp)
        return out == exp

    stdlib = getattr(sys, 'stdlib_module_names', None)
    stage = -1
    times = []
    try:
        limit(spec['solution_limit'])
        _t2_send(p2c_w, spec['solution'].encode('utf-8', 'surrogatepass'))
        m = receive()
        clear()
        if m[0] == 'error' and len(m) == 3:
            raise RuntimeError('%s: %s' % (m[1], m[2]))
        if m[0] != 'ready' or len(m) != 2 or type(m[1]) is not dict:
            broken.append(1)
            raise _T2Broken('malformed message from the program')
        tg = {'__name__': '__main__', '__builtins__': builtins}
        for name, d in m[1].items():
            if not name.isidentifier() or type(d) is not list or not d:
                continue
            if d[0] == 'callable':
                tg[name] = proxy(name)
            elif d[0] == 'value' and len(d) == 2:
                try:
                    tg[name] = _t2_decode(d[1])
                except Exception:
                    pass
            elif d[0] == 'module' and len(d) == 2 and type(d[1]) is str and d[1]:
                if stdlib is None or d[1].split('.')[0] in stdlib:
                    try:
                        tg[name] = importlib.import_module(d[1])
                    except Exception:
                        pass
        for stage, (src, lim) in enumerate(zip(spec['tests'], spec['limits'])):
            code = compile(src, 'test_%d.py' % stage, 'exec')
            t0 = time.perf_counter()
            limit(lim)
            exec(code, tg)
            clear()
            times.append(time.perf_counter() - t0)
        if spec['inputs']:
            ref = {'__name__': 't2_reference', '__builtins__': builtins}
            exec(compile(spec['reference'], 'reference.py', 'exec'), ref)
            rf = ref[spec['entry_point']]
            if spec['entry_point'] not in m[1]:
                raise NameError("name '%s' is not defined" % spec['entry_point'])
            for stage, inp in enumerate(spec['inputs']):
                t0 = time.perf_counter()
                exp = rf(*copy.deepcopy(inp))
                tref = time.perf_counter() - t0
                lim = max(spec['min_limit'], spec['limit_factor'] * tref)
                t0 = time.perf_counter()
                limit(lim)
                out = call(spec['entry_point'], tuple(copy.deepcopy(inp)), {})
                clear()
                times.append(time.perf_counter() - t0)
                if not same(out, exp, spec['atol']):
                    raise AssertionError('input %d: expected %r, got %r' % (stage, exp, out))
    except Timeout:
        report({'ok': False, 'stage': stage, 'status': 'timeout', 'error': 'time limit'}, 1)
    except BaseException as e:
        clear()
        report({'ok': False, 'stage': stage, 'status': 'failed',
                'error': (type(e).__name__ + ': ' + str(e))[:400]}, 1)
    if broken:
        report({'ok': False, 'stage': stage, 'status': 'failed', 'error': 'the program broke the test protocol'}, 1)
    report({'ok': True, 'times': times}, 0)

_t2_judge()
)PY";

std::string make_nonce() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("T2-{:016x}{:016x}", rng(), rng());
}

}  // namespace

std::string harness_program() { return kHarness; }

std::string harness_input(const CodeProgram& prog, const std::string& nonce) {
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
  return spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
  o.raw = sandbox.run_python({{"harness.py", kHarness}}, prog.args, &lim, harness_input(prog, nonce));
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
