"""GPU throughput: alkahest's CUDA kernels against CuPy and JAX on the same device.

Each benchmark expression is evaluated on N float64 points that already live on
the GPU (CuPy arrays; alkahest reads them through ``__cuda_array_interface__``),
so the numbers are kernel throughput, not PCIe transfers. One host round trip
(``CudaFn.call_batch``) is timed too. Prints ns/point and ratios
(peer time / alkahest time, > 1 means alkahest is faster).

Usage: python benches/bench_gpu.py [--n 10000000] [--reps 20] [--json FILE]
Needs a CUDA device, CuPy and alkahest built with the 'cuda' feature; JAX is
optional. Results are checked against NumPy on the host before timing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

import alkahest as ak


def expressions(pool):
    """(name, alkahest expr, vars, cupy/jax callable taking module `m` and arrays)."""
    x, y = pool.symbol("x"), pool.symbol("y")
    poly = sum((x**k) / (k + 1) for k in range(11))
    return [
        ("sin(x)*cos(x)", ak.sin(x) * ak.cos(x), [x], lambda m, x: m.sin(x) * m.cos(x)),
        (
            "poly10",
            poly,
            [x],
            lambda m, x: sum(x**k / (k + 1) for k in range(11)),
        ),
        (
            "exp(-x^2/2)cos(3x)+log1p(x^2)",
            ak.exp(-(x**2) / 2) * ak.cos(3 * x) + ak.log1p(x**2),
            [x],
            lambda m, x: m.exp(-(x**2) / 2) * m.cos(3 * x) + m.log1p(x**2),
        ),
        (
            "x*y+sin(x)/y",
            x * y + ak.sin(x) / y,
            [x, y],
            lambda m, x, y: x * y + m.sin(x) / y,
        ),
    ]


def best(f, sync, reps):
    f()
    sync()
    out = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        out = min(out, time.perf_counter() - t)
    return out


def run_one(name, expr, vars_, peer, env):
    """Time one expression on alkahest, CuPy, JAX and the copy floor."""
    cp, dev, host, n = env["cp"], env["dev"], env["host"], env["n"]
    reps, sync = env["reps"], env["sync"]
    jax, jnp, jdev = env["jax"], env["jnp"], env["jdev"]
    k = len(vars_)
    t0 = time.perf_counter()
    f = ak.compile_cuda(expr, vars_)
    compile_ms = (time.perf_counter() - t0) * 1e3
    out = cp.empty(n)
    f.call_device(*dev[:k], out=out)
    sync()
    ref = peer(np, *host[:k])
    got = cp.asnumpy(out)
    # relative error, absolute near zero crossings (the sum of terms of
    # size ~1 can cancel to ~0, where a relative measure means nothing)
    err = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)))
    assert err < 1e-12, f"{name}: alkahest differs from NumPy by {err}"
    r = {"expr": name, "n": n, "compile_ms": compile_ms, "max_rel_err": err}
    r["alkahest"] = best(lambda: f.call_device(*dev[:k], out=out), sync, reps)
    r["alkahest_host_roundtrip"] = best(
        lambda: f.call_batch(np.stack(host[:k])), lambda: None, max(3, reps // 5)
    )
    r["cupy"] = best(lambda: peer(cp, *dev[:k]), sync, reps)
    if jdev is not None:
        jx = [jax.device_put(h, jdev) for h in host[:k]]
        jf = jax.jit(lambda *a, p=peer: p(jnp, *a))
        jf(*jx).block_until_ready()
        r["jax"] = best(lambda: jf(*jx).block_until_ready(), lambda: None, reps)
    # memory floor: the kernel reads k columns and writes one, (k+1)*n
    # doubles of traffic; a device copy of m doubles moves 2m
    m = n * (k + 1) // 2
    buf = cp.empty(m)
    src = cp.empty(m)
    r["copy_floor"] = best(lambda: buf.__setitem__(slice(None), src), sync, reps)
    line = f"{name:32s} alkahest {r['alkahest'] * 1e12 / n:8.3f} ps/pt"
    for peer_name in ("cupy", "jax"):
        if peer_name in r:
            line += f" | {peer_name} {r[peer_name] / r['alkahest']:6.2f}x"
    line += f" | floor {r['copy_floor'] * 1e12 / n:7.3f} ps/pt"
    line += f" | host round trip {r['alkahest_host_roundtrip'] * 1e9 / n:6.2f} ns/pt"
    line += f" | compile {compile_ms:6.1f} ms | err {err:.1e}"
    print(line, flush=True)
    return r


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()

    import cupy as cp

    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        gpu = [d for d in jax.devices() if d.platform == "gpu"]
        jdev = gpu[0] if gpu else None
    except Exception as e:  # noqa: BLE001 - JAX is optional
        print(f"# JAX unavailable: {e}")
        jax = jdev = None

    info = ak.cuda_device()
    print(f"# device: {info}")
    n = args.n
    rng = np.random.default_rng(0)
    host = [rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)]
    dev = [cp.asarray(h) for h in host]
    sync = cp.cuda.runtime.deviceSynchronize
    rows = []
    pool = ak.ExprPool()
    env = {"cp": cp, "dev": dev, "host": host, "n": n, "reps": args.reps, "sync": sync}
    env.update(jax=jax, jnp=jnp if jax else None, jdev=jdev)
    for name, expr, vars_, peer in expressions(pool):
        rows.append(run_one(name, expr, vars_, peer, env))
    # fixed cost per call: sin(x)*cos(x) on growing batches, device-resident
    name, expr, vars_, _ = expressions(pool)[0]
    f = ak.compile_cuda(expr, vars_)
    sweep = []
    for m in (1, 1_000, 100_000, 1_000_000, n):
        xs, out = dev[0][:m], cp.empty(m)
        t = best(lambda xs=xs, out=out: f.call_device(xs, out=out), sync, args.reps)
        sweep.append({"n": m, "seconds": t})
        print(f"call_device sin*cos n={m:>10,}: {t * 1e6:9.1f} us  ({t * 1e9 / m:9.3f} ns/pt)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": info, "rows": rows, "sweep": sweep}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
