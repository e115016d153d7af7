#!/usr/bin/python3
"""Device consistency of the work items' tensor code, checked on a machine without a GPU.

Every tensor made by a factory (torch::tensor, zeros, ones, arange, full, empty, from_blob, rand...)
in the code of scoring, the REINFORCE loss and KL term, CEM, dispatch/mixtures and evaluation must
either be made on the model's device (the call names a device or options(), or is followed by
.to(...)), or be a host buffer that the next step moves, marked `// host: <where it moves>` on its
line or within the 5 lines above (a .to() that only changes the dtype does not count). A factory that is neither fails the test with its file and line:
on CUDA it would meet the model's tensors on another device and throw at the first work item.

(LibTorch 1.13's `meta` device cannot prove this at run time: gather does not check devices there
and repeat_interleave, used by attention, has no meta kernel. scripts/gpu-check runs the same work
items on CUDA: tests/experts/transformer/gpu-parity-test.cpp.)

  device_lint.py SOURCE_DIR
"""
import re
import sys

FILES = ["experts/reinforce-step.cpp", "experts/transformer-policy.cpp", "experts/svf-linear.cpp",
         "experts/svf-compose.cpp", "experts/cem.cpp", "experts/mixture.cpp", "experts/dispatch.cpp",
         "workers/scoring.cpp", "workers/work-executor.cpp"]
FACTORY = re.compile(r"\b(?:torch|at)::(tensor|zeros|ones|arange|full|empty|from_blob|rand|randn|randint|eye|"
                     r"linspace|zeros_like|ones_like|empty_like|full_like)\s*\(")


def problems(path, src):
    lines = src.split("\n")
    out = []
    for m in FACTORY.finditer(src):
        i, depth = m.end(), 1
        while depth and i < len(src):
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        call, after = src[m.start():i], src[i:i + 120]
        line = src.count("\n", 0, m.start())
        to = re.match(r"\s*(?:\.\w+\([^;()]*\))*\s*\.to\(([^;]*?)\)\s*[;.)]", after)
        on_device = (m.group(1).endswith("_like") or any(k in call for k in ("device", "options()", "Options", "opts"))
                     or (to is not None and re.search(r"dev|options", to.group(1)) is not None))
        marked = any("host:" in lines[k] for k in range(max(0, line - 5), line + 1))
        if not (on_device or marked):
            out.append(f"{path}:{line + 1}: {lines[line].strip()}")
    return out


def main():
    src_dir = sys.argv[1]
    found, calls = [], 0
    for f in FILES:
        text = open(f"{src_dir}/{f}").read()
        calls += len(FACTORY.findall(text))
        found += problems(f, text)
    # the check itself must catch a helper made on the CPU and combined with a device tensor
    bad = "auto ids = torch::zeros({B, T}, torch::kLong);\nauto x = lsm.gather(2, ids);\n"
    assert problems("self-test", bad), "the lint misses a CPU helper"
    assert not problems("self-test", "auto ids = torch::zeros({B, T}, torch::kLong).to(dev);\n")
    assert not problems("self-test", "auto m = torch::zeros({B}, lsm.options());\n")
    assert problems("self-test", "auto a = torch::tensor(adv, torch::kFloat64).to(lsm.scalar_type());\n")
    if found:
        print("tensors made on the CPU next to the model's tensors (make them on the device, or mark a host "
              "buffer with `// host: <where it moves>`):")
        print("\n".join(found))
        sys.exit(1)
    print(f"device lint: {calls} tensor factories in {len(FILES)} files, each on the model's device or a marked "
          "host buffer")


if __name__ == "__main__":
    main()
