"""First compile vs. a second process's disk-cache hit, per expression size.

For each size, a random shared DAG over x, y is saved as a pool file. Then,
per repetition, with a fresh cache directory: process A loads the pool and
compiles through ``CompileCache(path)`` (a miss: rewrite, lower, generate
code, write the entry); process B does the same with the same directory (a
disk hit: read, verify, link the stored object code). Only the
``cache.compile`` call is timed, in each process; B must report
``disk_hits == 1`` and ``compiles == 0`` and bit-identical results.

    python benches/bench_disk_cache.py [--sizes 100 1000 10000] [--reps 3] [--tier llvm]
                                       [--optimize none]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import alkahest as ak

CHILD = textwrap.dedent(
    """
    import json, time
    import numpy as np
    import alkahest as ak
    pool = ak.ExprPool()
    (e,) = pool.load_exprs({pool_path!r})
    x, y = pool.symbol("x"), pool.symbol("y")
    cache = ak.CompileCache({cache_dir!r})
    cfg = ak.CompileConfig(force_tier={tier!r}, optimize={optimize!r})
    t0 = time.perf_counter()
    f = cache.compile(e, [x, y], pool, cfg)
    dt = time.perf_counter() - t0
    xs = np.linspace(-1.0, 1.0, 1000)
    out = np.asarray(f.call_batch(np.stack([xs, xs[::-1]])))
    print(json.dumps({{"seconds": dt, "stats": cache.stats(), "tier": f.tier, "n_ops": f.n_ops,
                      "checksum": out.view(np.int64).tolist()[::97]}}))
    """
)


def random_dag(pool: ak.ExprPool, n_ops: int, seed: int = 7) -> ak.Expr:
    """About `n_ops` operations with heavy sharing (operands among recent nodes)."""
    rng = random.Random(seed)
    x, y = pool.symbol("x"), pool.symbol("y")
    nodes = [x, y, pool.float(0.5), pool.float(1.5)]
    for _ in range(n_ops):
        a = nodes[-1 - rng.randrange(min(len(nodes), 40))]
        b = nodes[-1 - rng.randrange(min(len(nodes), 40))]
        op = rng.choice(["add", "mul", "sub", "sin", "cos", "tanh", "div"])
        if op == "add":
            e = a + b
        elif op == "mul":
            e = a * b
        elif op == "sub":
            e = a - b
        elif op == "sin":
            e = ak.sin(a)
        elif op == "cos":
            e = ak.cos(a)
        elif op == "tanh":
            e = ak.tanh(a)
        else:
            e = a / (1 + b * b)
        nodes.append(e)
    total = nodes[-1]
    for n in nodes[-64:-1]:  # keep the tail live so the tape is about n_ops long
        total = total + n
    return total


def run(pool_path: Path, cache_dir: Path, tier: str, optimize: str) -> dict:
    code = CHILD.format(
        pool_path=str(pool_path), cache_dir=str(cache_dir), tier=tier, optimize=optimize
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tier", default="llvm")
    ap.add_argument("--optimize", default="none", choices=["none", "speed", "accuracy"])
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(
        "| tape ops | tier | optimize | first compile (ms) | disk hit, 2nd process (ms)"
        " | speedup | entry (KiB) |"
    )
    print("|---:|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.sizes:
            pool = ak.ExprPool()
            e = random_dag(pool, n)
            pool_path = tmp / f"pool-{n}.alk"
            pool.save(pool_path, [e])
            firsts, seconds, size = [], [], 0
            for rep in range(args.reps):
                cache_dir = tmp / f"cache-{n}-{rep}"
                a = run(pool_path, cache_dir, args.tier, args.optimize)
                b = run(pool_path, cache_dir, args.tier, args.optimize)
                assert a["stats"]["compiles"] == 1 and a["stats"]["disk_writes"] == 1, a["stats"]
                assert b["stats"]["disk_hits"] == 1 and b["stats"]["compiles"] == 0, b["stats"]
                assert a["checksum"] == b["checksum"] and a["tier"] == b["tier"] == args.tier
                firsts.append(a["seconds"])
                seconds.append(b["seconds"])
                size = sum(p.stat().st_size for p in cache_dir.glob("*/*.alkc"))
            f, s = statistics.median(firsts), statistics.median(seconds)
            print(
                f"| {a['n_ops']:,} | {args.tier} | {args.optimize} | {f * 1e3:.1f} | {s * 1e3:.2f}"
                f" | {f / s:.0f}x | {size / 1024:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
