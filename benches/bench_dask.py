"""Dask scaling: throughput of a chunked elementwise evaluation vs the number
of worker processes, alkahest against NumPy and numexpr in map_blocks.

Each run evaluates f(x, 0.25) = sin(x)*exp(-x*x/4) + sqrt(x*x + 0.0625) + x*x*x/7
over ``--points`` points made on the workers (``da.linspace``; nothing is
shipped from the client) and reduces every chunk to its sum where it was
computed, so the result is a small array and the full array never exists.
Workers are processes with one thread each (``LocalCluster(n_workers=n,
processes=True, threads_per_worker=1)``), and numexpr is limited to one
thread, so the scaling is across processes only.

With ``--scheduler ADDRESS`` the same runs go to an existing cluster (all its
workers) instead of local clusters of ``--workers`` sizes.

Also measured: a worker's start-up cost for one function, compiling it after
unpickling vs loading native code from a shared ``CompileCache(path=...)``
(fresh interpreters, the time of ``pickle.loads`` of the Kernel).

    .venv/bin/python benches/bench_dask.py --points 20000000 --workers 1,2
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

import alkahest as ak


def _sum_blocks(b):
    return np.array([b.sum()])


def numpy_block(x):
    return np.sin(x) * np.exp(-x * x / 4) + np.sqrt(x * x + 0.0625) + x * x * x / 7


def numexpr_block(x):
    import numexpr as ne

    ne.set_num_threads(1)
    return ne.evaluate("sin(x)*exp(-x*x/4) + sqrt(x*x + 0.0625) + x*x*x/7")


def build_fn():
    p = ak.ExprPool()
    x, y = p.symbol("x"), p.symbol("y")
    expr = ak.sin(x) * ak.exp(-x * x / 4) + ak.sqrt(x * x + y * y) + x * x * x / 7
    return ak.compile_expr(expr, [x, y], ak.CompileConfig(expected_evals=10**8))


def graph(kind, f, n_points, chunk):
    import dask.array as da

    n_chunks = -(-n_points // chunk)
    x = da.linspace(-4.0, 4.0, n_points, chunks=chunk)
    if kind == "alkahest":
        r = ak.numpy_eval(f, x, 0.25)
    elif kind == "numpy":
        r = da.map_blocks(numpy_block, x, dtype=np.float64)
    else:
        r = da.map_blocks(numexpr_block, x, dtype=np.float64)
    return da.map_blocks(_sum_blocks, r, chunks=((1,) * n_chunks,), dtype=np.float64)


def time_runs(client, kind, f, n_points, chunk, repeat):
    g = graph(kind, f, n_points, chunk)
    first = client.compute(g).result()  # warm-up: imports, compile, pools
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        res = client.compute(graph(kind, f, n_points, chunk)).result()
        best = min(best, time.perf_counter() - t)
    assert np.array_equal(res, first)
    return best, float(res.sum())


def startup(tmp):
    """Unpickle-to-ready time of a Kernel in a fresh process: compile vs disk load."""
    p = ak.ExprPool()
    xs = p.symbols("a b c d")
    e = xs[0]
    for i in range(60):  # a function whose compile time is visible
        e = ak.sin(e * xs[i % 4] + i) + ak.exp(-xs[(i + 1) % 4] * e / (i + 1))
    f = ak.compile_expr(e, xs, ak.CompileConfig(force_tier="cranelift"))
    cache_dir = os.path.join(tmp, "cache")
    blobs = {
        "compile (no disk cache)": pickle.dumps(ak.Kernel(f)),
        "load from shared CompileCache": pickle.dumps(
            ak.Kernel(f, cache=ak.CompileCache(cache_dir))
        ),
    }
    code = (
        "import pickle, sys, time, alkahest\n"
        "b = open(sys.argv[1], 'rb').read()\n"
        "t = time.perf_counter(); pickle.loads(b); print(time.perf_counter() - t)\n"
    )
    out = {}
    for name, blob in blobs.items():
        path = os.path.join(tmp, "k.pkl")
        with open(path, "wb") as fh:
            fh.write(blob)
        if "load" in name:  # a first worker fills the cache
            subprocess.run([sys.executable, "-c", code, path], check=True, capture_output=True)
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code, path], check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(3)
        ]
        out[name] = min(times)
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--points", type=int, default=20_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument(
        "--workers", default="1,2", help="local cluster sizes (ignored with --scheduler)"
    )
    ap.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", default="alkahest,numpy,numexpr")
    args = ap.parse_args()

    import distributed

    f = build_fn()
    kinds = args.kinds.split(",")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.points:.0e} points, chunks of {args.chunk:.0e}, best of {args.repeat}"
    )
    print(f"# alkahest tier: {f.tier}")
    print(f"{'workers':>7} {'kind':>9} {'seconds':>8} {'Mpoints/s':>10}")
    rows = {}

    def run(client, n):
        for kind in kinds:
            t, checksum = time_runs(client, kind, f, args.points, args.chunk, args.repeat)
            rows[(n, kind)] = t
            print(
                f"{n:>7} {kind:>9} {t:8.3f} {args.points / t / 1e6:10.1f}   (sum {checksum:.6e})",
                flush=True,
            )

    if args.scheduler:
        with distributed.Client(args.scheduler) as client:
            run(client, len(client.scheduler_info()["workers"]))
    else:
        for n in map(int, args.workers.split(",")):
            with (
                distributed.LocalCluster(
                    n_workers=n, processes=True, threads_per_worker=1, dashboard_address=None
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                run(client, n)
        ns = sorted({n for n, _ in rows})
        if len(ns) > 1:
            for kind in kinds:
                print(
                    f"# {kind}: {ns[-1]} workers vs {ns[0]}: {rows[(ns[0], kind)] / rows[(ns[-1], kind)]:.2f}x"
                )
    with tempfile.TemporaryDirectory() as tmp:
        for name, t in startup(tmp).items():
            print(f"# worker start-up, {name}: {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
