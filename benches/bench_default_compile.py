"""End-to-end compile latency of the default configuration (canonicalizing,
``optimize='speed'``) against ``optimize='none'``, by DAG size.

The expressions are bench_disk_cache.py's random DAGs over x, y with heavy
sharing (each new node picks operands among the 40 most recent).
Prints per size: tier chosen, compile ms (best of --reps, each in a fresh pool
so no cache helps), and the optimizer's stop reason and op counts.

Usage: python benches/bench_default_compile.py [--sizes 10 100 1000 10000 20000] [--reps 3]
"""

from __future__ import annotations

import argparse
import time

from bench_disk_cache import random_dag

import alkahest as ak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000, 20000])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print(f"{'nodes':>6} {'optimize':8} {'tier':12} {'ms':>9}  optimizer")
    for n in args.sizes:
        for opt in ("none", None):
            best, f = float("inf"), None
            for _ in range(args.reps):
                pool = ak.ExprPool()
                e, vs = random_dag(pool, n), [pool.symbol("x"), pool.symbol("y")]
                cfg = ak.CompileConfig(optimize=opt)
                t = time.perf_counter()
                f = ak.compile_expr(e, vs, cfg)
                best = min(best, time.perf_counter() - t)
            rw = f.explain()
            info = (
                f"{rw['stop_reason']}, ops {rw['ops_before']} -> {rw['ops_after']}"
                if rw["rewritten"]
                else "-"
            )
            print(f"{n:6d} {cfg.optimize:8} {f.tier:12} {best * 1e3:9.1f}  {info}", flush=True)


if __name__ == "__main__":
    main()
