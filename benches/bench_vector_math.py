"""The LLVM batch loop's own vector routines for what glibc's vector library
lacks or computes slowly (issue 17, item 3): ``fmod`` (exact), ``lgamma``,
``tgamma``, ``pow`` with a variable exponent, ``tanh`` and (on AVX-512)
``exp``, ``sinh`` and ``cosh``, against the same formula with ``exact_math=True`` (libm lane by
lane for the others; fmod's routine is exact, so it stays) and against
NumPy, SciPy and JAX in the same run (JAX from NumPy arrays; see below for
its threads).

One thread, 1M float64 points, ``numpy_eval(..., out=)``, ns/point, best of
``--reps``. Each peer's result is checked against alkahest's (1e-12 relative, 1e-13
absolute).
Missing peers are skipped.

``--libmvec`` adds a second table: the functions the LLVM batch loop takes
from glibc's vector library (libmvec) where the CPU lacks AVX-512 (with it,
``log``, ``asin`` and ``acos`` are Alkahest's own inline routines, see
docs/functions.md), alkahest against NumPy (``out=``,
its SIMD loops where it has them) and JAX, each on a sample inside the
function's domain. JAX's kernel runs on arrays already on its device; XLA's
CPU runtime spreads such loops over the cores whatever ``XLA_FLAGS`` say, so
its CPU time per point is printed beside the wall time.

Usage: python benches/bench_vector_math.py [--points 1000000] [--reps 7] [--libmvec]
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
    if name in ("exp", "sinh", "cosh"):
        ufunc = getattr(np, name)
        out.append(("numpy", lambda a, b: ufunc(a)))
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
            "exp": lambda a, b: jnp.exp(a),
            "sinh": lambda a, b: jnp.sinh(a),
            "cosh": lambda a, b: jnp.cosh(a),
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
    ap.add_argument("--libmvec", action="store_true", help="also time libmvec's functions")
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
        "exp": (ak.exp(x), rng.uniform(-50.0, 50.0, n), np.zeros(n)),
        "sinh": (ak.sinh(x), rng.uniform(-5.0, 5.0, n), np.zeros(n)),
        "cosh": (ak.cosh(x), rng.uniform(-5.0, 5.0, n), np.zeros(n)),
    }
    print(f"{n:,} points, one thread; ns/point (best of {args.reps})")
    print("| function | alkahest (own vector routine) | alkahest, exact_math=True | peers |")
    print("|---|---:|---:|---|")
    for name, (e, xs, ys) in cases.items():
        print(row(name, e, [x, y], xs, ys, args.reps))
    if args.libmvec:
        libmvec_table(n, args.reps)


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


# name: (alkahest builder, NumPy ufunc, JAX function name, x range, y range)
LIBMVEC = {
    "sin": (ak.sin, np.sin, "sin", (-10, 10), None),
    "cos": (ak.cos, np.cos, "cos", (-10, 10), None),
    "tan": (ak.tan, np.tan, "tan", (-1.5, 1.5), None),
    "log": (ak.log, np.log, "log", (1e-3, 1e3), None),
    "asin": (ak.asin, np.arcsin, "arcsin", (-1, 1), None),
    "acos": (ak.acos, np.arccos, "arccos", (-1, 1), None),
    "atan": (ak.atan, np.arctan, "arctan", (-10, 10), None),
    "log1p": (ak.log1p, np.log1p, "log1p", (-0.5, 10), None),
    "expm1": (ak.expm1, np.expm1, "expm1", (-5, 5), None),
    "asinh": (ak.asinh, np.arcsinh, "arcsinh", (-10, 10), None),
    "acosh": (ak.acosh, np.arccosh, "arccosh", (1, 10), None),
    "atanh": (ak.atanh, np.arctanh, "arctanh", (-0.99, 0.99), None),
    "cbrt": (ak.cbrt, np.cbrt, "cbrt", (-10, 10), None),
    "erf": (ak.erf, None, "erf", (-4, 4), None),
    "erfc": (ak.erfc, None, "erfc", (-4, 4), None),
    "atan2": (ak.atan2, np.arctan2, "arctan2", (-10, 10), (-10, 10)),
    "hypot": (ak.hypot, np.hypot, "hypot", (-10, 10), (-10, 10)),
}


def libmvec_table(n: int, reps: int) -> None:
    """Alkahest's LLVM batch against NumPy and JAX on libmvec's functions."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
    except ImportError:
        jax = None
    try:
        import scipy.special as sc
    except ImportError:
        sc = None
    rng = np.random.default_rng(2)
    pool = ak.ExprPool()
    x, y = pool.symbols("x y")
    print()
    print(f"libmvec's functions, {n:,} points, one thread; ns/point (best of {reps});")
    print("JAX on arrays already on its device (its kernel alone; wall and CPU time)")
    print("| function | alkahest | numpy | jax | fastest peer / alkahest |")
    print("|---|---:|---:|---:|---:|")
    for name, spec in LIBMVEC.items():
        print(libmvec_row(name, spec, (x, y), rng, n, reps, jax, sc), flush=True)


def libmvec_row(name, spec, xy, rng, n: int, reps: int, jax, sc) -> str:
    """One row of the libmvec table."""
    build, ufunc, jname, xr, yr = spec
    x, y = xy
    args = [rng.uniform(*xr, n)] if yr is None else [rng.uniform(*xr, n), rng.uniform(*yr, n)]
    e = build(x) if yr is None else build(x, y)
    f = ak.compile_expr(e, [x] if yr is None else [x, y], ak.CompileConfig(force_tier="llvm"))
    out = np.empty(n)
    t_own = best(lambda: ak.numpy_eval(f, *args, out=out), reps, n)
    want = out.copy()
    cells, times = [], []
    if ufunc is None and sc is not None:
        ufunc = getattr(sc, name)
    if ufunc is not None:
        o2 = np.empty(n)
        t = best(lambda: ufunc(*args, out=o2), reps, n)
        ok = np.allclose(o2, want, rtol=1e-13, atol=1e-300)
        cells.append(f"{t:.2f}{'' if ok else ' (DIFFERS)'}")
        times.append(t)
    else:
        cells.append("-")
    if jax is not None:
        import jax.numpy as jnp

        jf = jax.jit(
            getattr(jnp, jname) if hasattr(jnp, jname) else getattr(jax.scipy.special, jname)
        )
        on_device = [jax.device_put(a) for a in args]
        ok = np.allclose(np.asarray(jf(*on_device)), want, rtol=1e-12, atol=1e-300)
        c0, w0 = time.process_time(), time.perf_counter()
        t = best(lambda: jf(*on_device).block_until_ready(), reps, n)
        threads = (time.process_time() - c0) / (time.perf_counter() - w0)
        # XLA's CPU runtime splits large elementwise loops over the cores
        # whatever XLA_FLAGS say: its CPU time per point, for one core.
        cells.append(f"{t:.2f} (cpu {t * threads:.2f}){'' if ok else ' (DIFFERS)'}")
        times.append(t)
    else:
        cells.append("-")
    ratio = f"{min(times) / t_own:.2f}x" if times else "-"
    return f"| {name} | **{t_own:.2f}** | {' | '.join(cells)} | {ratio} |"


if __name__ == "__main__":
    main()
