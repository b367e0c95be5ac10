"""Compile time of the MLIR ball enclosure (``compile_interval``) and of the MLIR
compile tier (``compile_expr(..., force_tier="mlir")``) as the DAG grows.

The expressions are bench_disk_cache.py's random DAGs over x, y with heavy
sharing (each new node picks operands among the 40 most recent). Each size is
compiled in a fresh pool; the time is wall clock and CPU time of this process
(the CPU time is the steadier of the two on a shared machine). The enclosure
of one fixed ball (or the value at one point) is printed too, so that two
builds can be checked to compute the same bits.

Usage: python benches/bench_interval_growth.py [--what ball mlir]
           [--sizes 500 1000 2000 4000 8000] [--reps 1]
"""

from __future__ import annotations

import argparse
import platform
import time

from bench_disk_cache import random_dag

import alkahest as ak

BALL = [(0.3, 1e-6), (-0.2, 1e-6)]
POINT = [0.3, -0.2]


def once(what: str, n: int) -> tuple[float, float, str]:
    pool = ak.ExprPool()
    e, vs = random_dag(pool, n), [pool.symbol("x"), pool.symbol("y")]
    t, c = time.perf_counter(), time.process_time()
    if what == "ball":
        f = ak.compile_interval(e, vs)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        mid, rad = f(BALL)
        return wall, cpu, f"mid {mid!r} rad {rad!r}"
    f = ak.compile_expr(e, vs, ak.CompileConfig(force_tier="mlir", optimize="none"))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return wall, cpu, f"value {f(*POINT)!r}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", nargs="+", default=["ball"], choices=["ball", "mlir"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    ap.add_argument("--reps", type=int, default=1)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'what':5} {'nodes':>7} {'wall s':>8} {'cpu s':>8}  result")
    for what in args.what:
        for n in args.sizes:
            runs = [once(what, n) for _ in range(args.reps)]
            wall = min(r[0] for r in runs)
            cpu = min(r[1] for r in runs)
            print(f"{what:5} {n:>7} {wall:>8.2f} {cpu:>8.2f}  {runs[0][2]}", flush=True)


if __name__ == "__main__":
    main()
