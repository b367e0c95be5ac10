"""Measured crossover points behind CompileConfig's implicit tier choice.

For each expression and tier: compile latency (expression to ready function,
``optimize='none'``, best of --reps in fresh pools so no cache helps) and
evaluation time per point (``numpy_eval`` on 1M points, one thread, best of
--reps). From those, the batch size N at which a slower-compiling tier pays
for itself: compile_a + N * t_a = compile_b + N * t_b. These are the numbers
the dispatch constants in crates/alkahest-compile/src/tiers.rs rest on
(see benches/RESULTS.md, "Dispatch crossovers").

Usage: python benches/bench_dispatch.py [--sizes 10 100 1000 5000] [--reps 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_disk_cache import random_dag

import alkahest as ak


def best(fn, reps: int) -> float:
    b = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t)
    return b


def small_exprs(pool: ak.ExprPool):
    x, y = pool.symbol("x"), pool.symbol("y")
    coeffs = [0.5, -1.25, 0.75, 2.0, -0.125, 0.3, -0.7, 1.1, -0.05, 0.9, 0.2]
    return {
        "sin(x)*cos(x)": ak.sin(x) * ak.cos(x),
        "poly10 (dense)": sum((c * x**k for k, c in enumerate(coeffs)), pool.integer(0)),
        "x*y + sin(x)/y": x * y + ak.sin(x) / y,
    }


def crossover(c_slow: float, t_slow: float, c_fast: float, t_fast: float) -> str:
    """Points at which the tier with compile c_slow / per-point t_slow beats the other."""
    if t_slow >= t_fast:
        return "never"
    return f"{(c_slow - c_fast) / (t_fast - t_slow):,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--points", type=int, default=1_000_000)
    a = ap.parse_args()
    feats = ak.features()
    tiers = ["interpreter"] + [
        t for t, k in (("cranelift", "cranelift"), ("llvm", "jit")) if feats.get(k)
    ]
    rng = np.random.default_rng(0)
    cols = [rng.uniform(0.5, 1.5, a.points), rng.uniform(0.5, 1.5, a.points)]
    cases = [(name, None) for name in small_exprs(ak.ExprPool())] + [
        (f"random DAG {n}", n) for n in a.sizes
    ]
    print(
        f"{a.points:,} points; compile ms / eval ns per point; crossover = batch size where the next tier wins"
    )
    print(
        "| expression | ops | "
        + " | ".join(f"{t} compile / eval" for t in tiers)
        + " | interp->cranelift | cranelift->llvm |"
    )
    print("|---|---|" + "---|" * (len(tiers) + 2))
    for name, n in cases:
        row = {}
        for tier in tiers:

            def make(tier=tier, name=name, n=n):
                pool = ak.ExprPool()
                e = small_exprs(pool)[name] if n is None else random_dag(pool, n)
                vs = [pool.symbol("x"), pool.symbol("y")]
                cfg = ak.CompileConfig(force_tier=tier, optimize="none")
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ak.FallbackWarning)
                    f = ak.compile_expr(e, vs, cfg)
                return time.perf_counter() - t, f

            runs = [make() for _ in range(a.reps)]
            c, f = min(runs, key=lambda r: r[0])
            if f.tier != tier:
                continue
            ev = best(lambda f=f: ak.numpy_eval(f, *cols), a.reps) / a.points
            row[tier] = (c, ev, f.n_ops)
        ops = next(iter(row.values()))[2]
        cells = [
            f"{row[t][0] * 1e3:.2f} / {row[t][1] * 1e9:.1f}" if t in row else "-" for t in tiers
        ]
        x1 = (
            crossover(*row["cranelift"][:2], *row["interpreter"][:2]) if "cranelift" in row else "-"
        )
        x2 = (
            crossover(*row["llvm"][:2], *row["cranelift"][:2])
            if {"llvm", "cranelift"} <= row.keys()
            else "-"
        )
        print(f"| {name} | {ops} | " + " | ".join(cells) + f" | {x1} | {x2} |", flush=True)


if __name__ == "__main__":
    main()
