"""Cost of ``CompileConfig(exact_math=True)`` (issue 15, item 2): LLVM's batch
loop with libm called lane by lane, against the default (glibc's vector math
library, libmvec), with the interpreter and Cranelift for scale.

One thread, ``numpy_eval(..., out=)``, ns/point, best of ``--reps``; the two
LLVM builds are timed alternately so they share the machine's noise. Every
exact-math result is checked bit for bit against the interpreter.

Usage: python benches/bench_exact_math.py [--points 1000000] [--reps 11]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import alkahest as ak


def formulas(pool):
    x, y, z = pool.symbols("x y z")
    one = pool.integer(1)
    return {
        "issue's mixed formula": ak.exp(-x * y / 4) * ak.log(one + z)
        + ak.sqrt(x + y**2 + z) * ak.tanh(x - z)
        + x**y / (one + z**1.5),
        "sin(x)*cos(x)": ak.sin(x) * ak.cos(x),
        "erf(x)*atan2(y, x)": ak.erf(x) * ak.atan2(y, x),
        "x**2 + 3*x + 1 (no calls)": x**2 + 3 * x + 1,
    }, [x, y, z]


def timed(f, cols, out):
    t = time.perf_counter()
    ak.numpy_eval(f, *cols, out=out)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=11)
    args = ap.parse_args()
    n = args.points
    rng = np.random.default_rng(7)
    cols = [rng.uniform(0.1, 2.0, n) for _ in range(3)]
    out = np.empty(n)
    pool = ak.ExprPool()
    fs, vars_ = formulas(pool)

    def build(tier, **kw):
        return lambda e: ak.compile_expr(
            e,
            vars_,
            ak.CompileConfig(force_tier=tier, optimize="none", expected_evals=10**8, **kw),
        )

    tiers = {
        "interpreter": build("interpreter"),
        "cranelift": build("cranelift"),
        "llvm": build("llvm"),
        "llvm exact_math": build("llvm", exact_math=True),
    }
    print(f"{n} points, one thread, ns/point (best of {args.reps})")
    print("| formula | " + " | ".join(tiers) + " | exact / default |")
    print("|---|" + "---|" * (len(tiers) + 1))
    for name, e in fs.items():
        built = {t: make(e) for t, make in tiers.items()}
        want = ak.numpy_eval(built["interpreter"], *cols)
        got = ak.numpy_eval(built["llvm exact_math"], *cols)
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64)) or np.array_equal(
            got, want, equal_nan=True
        ), name
        best = {t: float("inf") for t in tiers}
        for _ in range(args.reps):
            # Alternate, so slow spells of a shared machine hit every tier.
            for t, f in built.items():
                best[t] = min(best[t], timed(f, cols, out))
        ns = {t: best[t] / n * 1e9 for t in tiers}
        ratio = ns["llvm exact_math"] / ns["llvm"]
        cells = " | ".join(f"{ns[t]:.2f}" for t in tiers)
        print(f"| {name} | {cells} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
