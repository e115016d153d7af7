# The reference for bench/results: the same units written with h5py (Debian's python3-h5py), each
# as a temporary file, fsynced, renamed into place, directory fsynced, exactly as t2 does.
#   h5py-reference.py DIR N_RECORDS BATCH N_CHECKPOINTS STATE_FLOATS
import os, sys, time
import h5py, numpy as np

out, n_records, batch, n_ckpt, state = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
os.makedirs(out, exist_ok=True)
vlen = h5py.string_dtype('utf-8')

def durable(path, fill):
    tmp = path + '.tmp.%d' % os.getpid()
    with h5py.File(tmp, 'w') as f:
        fill(f)
    fd = os.open(tmp, os.O_RDONLY); os.fsync(fd); os.close(fd)
    os.rename(tmp, path)
    fd = os.open(out, os.O_RDONLY); os.fsync(fd); os.close(fd)

t0 = time.perf_counter()
for b in range(n_records // batch):
    k = np.arange(b * batch, (b + 1) * batch)
    def fill(f):
        f.attrs['batch_index'] = b
        g = f.create_group('records')
        g.create_dataset('example_id', data=['gsm8k/test/%d' % i for i in k], dtype=vlen)
        g.create_dataset('example_index', data=k.astype(np.int64))
        g.create_dataset('prompt_hash', data=['%016x' % (i * 2654435761) for i in k], dtype=vlen)
        g.create_dataset('response', data=['The answer is %d because ...' % i for i in k], dtype=vlen)
        g.create_dataset('extracted', data=[str(i) for i in k], dtype=vlen)
        g.create_dataset('reference', data=[str(i) for i in k], dtype=vlen)
        g.create_dataset('score', data=(k % 3 == 0).astype(np.float64))
        g.create_dataset('route', data=['gsm8k'] * len(k), dtype=vlen)
        g.create_dataset('prompt_tokens', data=(k % 500).astype(np.int64))
        g.create_dataset('response_tokens', data=(k % 300).astype(np.int64))
    durable(os.path.join(out, 'eval-%06d.h5' % b), fill)
t_records = time.perf_counter() - t0

z = np.random.default_rng(0).standard_normal(state).astype(np.float32)
t0 = time.perf_counter()
keep = []
for s in range(1, n_ckpt + 1):
    def fill(f):
        f.attrs['step'] = s
        f.create_dataset('floats/z', data=z)
        f.create_dataset('floats/adam_m', data=z)
        f.create_dataset('floats/adam_v', data=z)
        f.create_dataset('curve/step', data=np.arange(1, s + 1, dtype=np.int64), maxshape=(None,), chunks=(256,))
        f.create_dataset('curve/reward_mean', data=np.zeros(s), maxshape=(None,), chunks=(256,))
    p = os.path.join(out, 'ckpt-%06d.h5' % s)
    durable(p, fill)
    keep.append(p)
    if len(keep) > 3: os.unlink(keep.pop(0))
t_ckpt = time.perf_counter() - t0
print('%.6f %.6f' % (t_records, t_ckpt))
