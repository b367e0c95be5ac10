"""End-to-end compile latency of the default configuration (canonicalizing,
``optimize='speed'``) against ``optimize='none'``, by DAG size.

The expressions are random DAGs over x, y with heavy sharing (each new node
picks operands among the 40 most recent), built with alkahest's own operators.
Prints per size: tier chosen, compile ms (best of --reps, each in a fresh pool
so no cache helps), and the optimizer's stop reason and op counts.

Usage: python benches/bench_default_compile.py [--sizes 10 100 1000 10000 20000] [--reps 3]
"""

from __future__ import annotations

import argparse
import random
import time

import alkahest as ak


def random_dag(pool, n_ops: int, seed: int = 7):
    """About n_ops operations over x, y; returns (expr, [x, y])."""
    rng = random.Random(seed)
    x, y = pool.symbol("x"), pool.symbol("y")
    nodes = [x, y, x * 0.5, y + 1.5]
    for _ in range(n_ops):
        op = rng.choice(["add", "mul", "sub", "sin", "cos", "exp_t", "div"])
        a = nodes[-1 - rng.randrange(min(len(nodes), 40))]
        b = nodes[-1 - rng.randrange(min(len(nodes), 40))]
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
        elif op == "exp_t":
            e = ak.exp(ak.tanh(a))
        else:
            e = a / (1 + b * b)
        nodes.append(e)
    return nodes[-1], [x, y]


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
                e, vs = random_dag(pool, n)
                cfg = ak.CompileConfig(optimize=opt)
                t = time.perf_counter()
                f = ak.compile_expr(e, vs, cfg)
                best = min(best, time.perf_counter() - t)
            rw = f.explain()
            info = (
                f"{rw['stop_reason']}, ops {rw['ops_before']} -> {rw['ops_after']}" if rw else "-"
            )
            print(f"{n:6d} {cfg.optimize:8} {f.tier:12} {best * 1e3:9.1f}  {info}", flush=True)


if __name__ == "__main__":
    main()
