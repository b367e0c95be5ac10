"""Third powers x**(p/3) with an exact exponent (``sympy.cbrt(x)`` is
``x**(1/3)``): speed and accuracy against NumPy and JAX in the same run.

Alkahest computes them from ``cbrt`` with one Newton correction
(``alkahest_tape::thirds``); NumPy, JAX, SymEngine and ``sympy.lambdify``
call ``pow`` with the rounded exponent, whose error grows with ``|log x|``.
Accuracy: the largest distance from the true value (mpmath) in ulps over
``--accuracy-points`` points of two ranges. Speed: one thread, ``--points``
float64 points in [0.1, 10], ns/point, best of ``--reps``.

Usage: python benches/bench_third_powers.py [--points 1000000] [--reps 7]
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import mpmath  # noqa: E402
import numpy as np  # noqa: E402

import alkahest as ak  # noqa: E402
from bench_vector_math import best  # noqa: E402  (same folder)

EXPONENTS = [(1, 3), (-1, 3), (2, 3), (-2, 3), (4, 3)]


def worst_ulps(values, xs, num: int) -> float:
    worst = 0.0
    with mpmath.workdps(40):
        for v, g in zip(xs, values, strict=True):
            want = mpmath.mpf(float(v)) ** (mpmath.mpf(num) / 3)
            worst = max(worst, float(abs(mpmath.mpf(float(g)) - want) / math.ulp(float(want))))
    return worst


def tiers() -> list[str]:
    feats = ak.features()
    return ["interpreter"] + [
        t for t, f in (("cranelift", "cranelift"), ("llvm", "jit")) if feats.get(f)
    ]


def jax_power():
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        return None

    def make(num: int):
        e = num / 3
        if num == 1:
            f = jax.jit(jnp.cbrt)
        else:
            f = jax.jit(lambda a: jnp.power(a, e))
        return lambda xs: np.asarray(f(xs).block_until_ready())

    return make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--accuracy-points", type=int, default=2000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    xs = rng.uniform(0.1, 10.0, a.points)
    out = np.empty_like(xs)
    ranges = {
        "[0.1, 10]": rng.uniform(0.1, 10.0, a.accuracy_points),
        "[1e-300, 1e300]": 10.0 ** rng.uniform(-300, 300, a.accuracy_points),
    }
    jx = jax_power()
    pool = ak.ExprPool()
    x = pool.symbol("x")
    ts = tiers()
    print("## Speed, ns/point (one thread)")
    head = ["x**"] + [f"alk:{t}" for t in ts] + ["numpy pow", "numpy cbrt", "jax"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    fns = {}
    for num, den in EXPONENTS:
        e = x ** pool.rational(num, den)
        row = []
        for t in ts:
            f = ak.compile_expr(e, [x], ak.CompileConfig(force_tier=t))
            fns[(num, t)] = f
            row.append(best(lambda f=f: ak.numpy_eval(f, xs, out=out), a.reps, a.points))
        y = num / den
        row.append(best(lambda y=y: np.power(xs, y, out=out), a.reps, a.points))
        row.append(
            best(lambda: np.cbrt(xs, out=out), a.reps, a.points) if num == 1 else float("nan")
        )
        if jx is not None:
            g = jx(num)
            g(xs)
            row.append(best(lambda g=g: g(xs), a.reps, a.points))
        else:
            row.append(float("nan"))
        print(
            f"| {num}/{den} | "
            + " | ".join("-" if math.isnan(v) else f"{v:.2f}" for v in row)
            + " |"
        )
    print("\n## Accuracy: largest error in ulps of the true value (mpmath)")
    head = ["x**", "range"] + [f"alk:{t}" for t in ts] + ["numpy pow", "numpy cbrt"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for num, den in EXPONENTS:
        for rname, pts in ranges.items():
            row = [worst_ulps(ak.numpy_eval(fns[(num, t)], pts), pts, num) for t in ts]
            with np.errstate(all="ignore"):
                row.append(worst_ulps(np.power(pts, num / den), pts, num))
                row.append(worst_ulps(np.cbrt(pts), pts, num) if num == 1 else float("nan"))
            cells = ["-" if math.isnan(v) else f"{v:.2f}" for v in row]
            print(f"| {num}/{den} | {rname} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
