"""The LLVM batch loop's own vector routines for what glibc's vector library
lacks or computes slowly (issue 17, item 3): ``fmod`` (exact), ``lgamma``,
``tgamma``, ``pow`` with a variable exponent and ``tanh``, against the same
formula with ``exact_math=True`` (libm lane by lane for the others;
fmod's routine is exact, so it stays) and against NumPy, SciPy and JAX (XLA
on one thread) in the same run.

One thread, 1M float64 points, ``numpy_eval(..., out=)``, ns/point, best of
``--reps``. Each peer's result is checked against alkahest's (1e-12 relative, 1e-13
absolute).
Missing peers are skipped.

Usage: python benches/bench_vector_math.py [--points 1000000] [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import numpy as np  # noqa: E402

import alkahest as ak  # noqa: E402


def best(fn, reps: int, n: int) -> float:
    t_best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best / n * 1e9


def peers(name: str):
    """(label, fn(xs, ys) -> array) for each peer installed."""
    out = []
    if name == "fmod":
        out.append(("numpy", lambda a, b: np.fmod(a, b)))
    if name == "pow":
        out.append(("numpy", lambda a, b: np.power(a, b)))
    if name == "tanh":
        out.append(("numpy", lambda a, b: np.tanh(a)))
    try:
        import scipy.special as sc

        if name == "lgamma":
            out.append(("scipy", lambda a, b: sc.gammaln(a)))
        if name == "gamma":
            out.append(("scipy", lambda a, b: sc.gamma(a)))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        fn = {
            "fmod": jnp.fmod,
            "lgamma": lambda a, b: jax.scipy.special.gammaln(a),
            "gamma": lambda a, b: jax.scipy.special.gamma(a),
            "pow": jnp.power,
            "tanh": lambda a, b: jnp.tanh(a),
        }[name]
        if name not in ("fmod", "pow"):
            jitted = jax.jit(fn)
        else:
            jitted = jax.jit(lambda a, b: fn(a, b))

        def run(a, b, jitted=jitted):
            return np.asarray(jitted(a, b).block_until_ready())

        out.append(("jax", run))
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    n = args.points
    rng = np.random.default_rng(1)
    pool = ak.ExprPool()
    x, y = pool.symbols("x y")
    cases = {
        # (expression, x sample, y sample)
        "fmod": (ak.fmod(x, y), rng.uniform(-20, 20, n), rng.uniform(0.5, 3.0, n)),
        "lgamma": (ak.loggamma(x), rng.uniform(0.1, 20, n), np.zeros(n)),
        "gamma": (ak.gamma(x), rng.uniform(0.05, 30, n), np.zeros(n)),
        "pow": (x**y, rng.uniform(0.1, 2.0, n), rng.uniform(-2.0, 2.0, n)),
        "tanh": (ak.tanh(x), rng.uniform(-5.0, 5.0, n), np.zeros(n)),
    }
    print(f"{n:,} points, one thread; ns/point (best of {args.reps})")
    print("| function | alkahest (own vector routine) | alkahest, exact_math=True | peers |")
    print("|---|---:|---:|---|")
    for name, (e, xs, ys) in cases.items():
        print(row(name, e, [x, y], xs, ys, args.reps))


def row(name, e, xy, xs, ys, reps: int) -> str:
    """One table row: the own routine, libm lane by lane, each peer."""
    n = len(xs)
    f = ak.compile_expr(e, xy, ak.CompileConfig(force_tier="llvm"))
    g = ak.compile_expr(e, xy, ak.CompileConfig(force_tier="llvm", exact_math=True))
    out = np.empty(n)
    t_own = best(lambda: ak.numpy_eval(f, xs, ys, out=out), reps, n)
    want = out.copy()
    t_libm = best(lambda: ak.numpy_eval(g, xs, ys, out=out), reps, n)
    cells = []
    for label, fn in peers(name):
        # atol: lgamma is ~0 next to 1 and 2, where the peers lose digits.
        ok = np.allclose(fn(xs, ys), want, rtol=1e-12, atol=1e-13, equal_nan=True)
        t = best(lambda fn=fn: fn(xs, ys), reps, n)
        cells.append(f"{label} {t:.2f}{'' if ok else ' (DIFFERS)'}")
    return f"| {name} | **{t_own:.2f}** | {t_libm:.2f} | {', '.join(cells)} |"


if __name__ == "__main__":
    main()
