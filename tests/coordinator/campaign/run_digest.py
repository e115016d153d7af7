#!/usr/bin/python3
"""Prints a digest of everything a t2 run computed, independent of t2: every dataset of every HDF5
file under RUN_DIR/jobs (evaluation records, checkpoints with z and optimizer state, CEM generations,
metrics, expert vectors), read with h5py and hashed by value. Files that only carry bookkeeping
(job.h5: times and attempts) are left out, so two runs that computed the same numbers print the same
digest whatever the number of ranks or interruptions.

  run_digest.py RUN_DIR [--list]     --list prints one line per dataset instead of one total
"""
import hashlib
import os
import sys

import h5py
import numpy as np

SKIP_FILES = {"job.h5", "run.h5"}


def datasets(path):
    out = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                v = obj[()]
                if isinstance(v, np.ndarray) and v.dtype.kind == "O":
                    v = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in v.ravel()])
                b = np.asarray(v).tobytes() if not isinstance(v, bytes) else v
                out.append((name, hashlib.sha256(b).hexdigest()[:16]))
        f.visititems(visit)
    return out


def main():
    run = sys.argv[1]
    lines = []
    jobs = os.path.join(run, "jobs")
    for root, _, files in sorted(os.walk(jobs)):
        for fn in sorted(files):
            if not fn.endswith(".h5") or fn in SKIP_FILES or ".tmp." in fn:
                continue
            p = os.path.join(root, fn)
            rel = os.path.relpath(p, jobs)
            for name, h in datasets(p):
                lines.append(f"{rel}:{name} {h}")
    if "--list" in sys.argv:
        print("\n".join(lines))
    else:
        print(len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest())


if __name__ == "__main__":
    main()
