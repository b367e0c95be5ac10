"""Alkahest against the tools a user would reach for instead, in one run.

Measures, on float64 data (single thread unless stated):

* throughput on 1M points for each benchmark expression, per Alkahest tier
  available in this build, NumPy (via ``sympy.lambdify``), numexpr,
  SymEngine ``Lambdify`` (LLVM backend when the wheel has it), Numba
  (``@vectorize``) and JAX (``jit``, CPU), plus the memory floor (a plain copy
  of the input to the output); printed as ns/point and as peer/alkahest ratios;
* compile latency against DAG size (10 .. 20k nodes) per tier and per peer;
* scalar call latency from Python: ``f([a, b])``;
* ``numpy_eval_par`` scaling by thread count.

Usage: ``python benches/bench_peers.py [--quick] [--json FILE] [--sections ...]``.
Peers that are missing or fail on an expression print ``n/a`` / ``fail``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
import warnings

import numpy as np
import sympy as sp

import alkahest as ak

N = 1_000_000
# CompileConfig(optimize=...) for every alkahest compile; None = the build's default
# ("speed" with the e-graph optimizer). Set by --optimize.
OPTIMIZE = None


def best(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


# ---------------------------------------------------------------------------
# Benchmark expressions (built in SymPy so every peer sees the same formula)
# ---------------------------------------------------------------------------

x_s, y_s = sp.symbols("x y")


def random_dag(n_ops: int, seed: int = 7) -> sp.Expr:
    """A random expression over x, y with about n_ops operations and heavy
    sharing: each new node picks operands among recent nodes."""
    rng = random.Random(seed)
    nodes = [x_s, y_s, sp.Float(0.5), sp.Float(1.5)]
    ops = ["add", "mul", "sub", "sin", "cos", "exp_t", "div"]
    for _ in range(n_ops):
        op = rng.choice(ops)
        a = nodes[-1 - rng.randrange(min(len(nodes), 40))]
        b = nodes[-1 - rng.randrange(min(len(nodes), 40))]
        # evaluate=False: SymPy's automatic simplification (expanding
        # quotients) is quadratic or worse on a shared DAG of this size.
        if op == "add":
            e = sp.Add(a, b, evaluate=False)
        elif op == "mul":
            e = sp.Mul(a, b, evaluate=False)
        elif op == "sub":
            e = sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False)
        elif op == "sin":
            e = sp.sin(a, evaluate=False)
        elif op == "cos":
            e = sp.cos(a, evaluate=False)
        elif op == "exp_t":
            e = sp.exp(sp.tanh(a, evaluate=False), evaluate=False)
        else:
            den = sp.Add(1, sp.Mul(b, b, evaluate=False), evaluate=False)
            e = sp.Mul(a, sp.Pow(den, -1, evaluate=False), evaluate=False)
        nodes.append(e)
    return nodes[-1]


def poly10() -> sp.Expr:
    coeffs = [0.5, -1.25, 0.75, 2.0, -0.125, 0.3, -0.7, 1.1, -0.05, 0.9, 0.2]
    return sum(c * x_s**k for k, c in enumerate(coeffs))


def expressions():
    return [
        ("sin(x)*cos(x)", sp.sin(x_s) * sp.cos(x_s), [x_s]),
        ("poly10 (dense)", poly10(), [x_s]),
        ("exp(-x^2/2)cos(3x)+log1p(x^2)", sp.exp(-(x_s**2) / 2) * sp.cos(3 * x_s) + sp.log(1 + x_s**2), [x_s]),
        ("x*y + sin(x)/y", x_s * y_s + sp.sin(x_s) / y_s, [x_s, y_s]),
        ("random DAG, 2.7k ops", random_dag(2700), [x_s, y_s]),
    ]


# ---------------------------------------------------------------------------
# Peers: each returns (compile_seconds, evaluate(arrays) -> ndarray) or raises
# ---------------------------------------------------------------------------


def peer_numpy(expr, args):
    t0 = time.perf_counter()
    f = sp.lambdify(args, expr, "numpy")
    return time.perf_counter() - t0, lambda cols: f(*cols)


def peer_numexpr(expr, args):
    import numexpr as ne

    src = str(expr).replace("atan2", "arctan2")
    t0 = time.perf_counter()
    names = [str(a) for a in args]
    ne.evaluate(src, local_dict={n: np.ones(4) for n in names})  # parse + compile
    dt = time.perf_counter() - t0
    return dt, lambda cols: ne.evaluate(src, local_dict=dict(zip(names, cols, strict=True)))


def peer_symengine(expr, args):
    import symengine as se

    t0 = time.perf_counter()
    try:
        f = se.Lambdify(args, [expr], backend="llvm", real=True)
        peer_symengine.backend = "llvm"
    except (TypeError, ValueError, RuntimeError):
        f = se.Lambdify(args, [expr], real=True)
        peer_symengine.backend = "lambda"
    dt = time.perf_counter() - t0
    return dt, lambda cols: f(np.stack(cols, axis=-1)).reshape(-1)


peer_symengine.backend = "?"


def peer_numba(expr, args):
    import numba

    t0 = time.perf_counter()
    scalar = sp.lambdify(args, expr, "math")
    sig = "float64(" + ",".join(["float64"] * len(args)) + ")"
    f = numba.vectorize([sig], nopython=True)(scalar)
    dt = time.perf_counter() - t0
    return dt, lambda cols: f(*cols)


def peer_jax(expr, args):
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp

    f = jax.jit(sp.lambdify(args, expr, "jax"))
    cols = [jnp.ones(16) for _ in args]
    t0 = time.perf_counter()
    f(*cols).block_until_ready()  # trace + compile (for this shape; re-traced below)
    dt = time.perf_counter() - t0
    return dt, lambda cols: np.asarray(f(*[jnp.asarray(c) for c in cols]).block_until_ready())


PEERS = {
    "numpy": peer_numpy,
    "numexpr": peer_numexpr,
    "symengine": peer_symengine,
    "numba": peer_numba,
    "jax": peer_jax,
}


def alkahest_tiers():
    feats = ak.features()
    tiers = ["interpreter"]
    if feats.get("cranelift"):
        tiers.append("cranelift")
    if feats.get("jit"):
        tiers.append("llvm")
    return tiers


def alk_compile(expr, args, tier, expected=None):
    pool = ak.ExprPool()
    t0 = time.perf_counter()
    e = ak.from_sympy(expr, pool)
    vars_ = [pool.symbol(str(a)) for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ak.FallbackWarning)
        cfg = ak.CompileConfig(force_tier=tier, expected_evals=expected, optimize=OPTIMIZE)
        f = ak.compile_expr(e, vars_, cfg)
    return time.perf_counter() - t0, f


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def throughput(results, reps, n):
    print(f"\n## Throughput, {n:,} points, float64, one thread (ns/point; ratio = peer / best alkahest)")
    rng = np.random.default_rng(0)
    data = {1: [rng.uniform(-2, 2, n)], 2: [rng.uniform(-2, 2, n), rng.uniform(0.5, 2, n)]}
    out = np.empty(n)
    floor = best(lambda: np.copyto(out, data[1][0]), reps) / n * 1e9
    print(f"memory floor (copy input -> output): {floor:.2f} ns/point")
    results["memory_floor_ns"] = floor
    tiers = alkahest_tiers()
    header = ["expression"] + [f"alk:{t}" for t in tiers] + list(PEERS)
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, expr, args in expressions():
        cols = data[len(args)]
        row = {}
        ref = None
        for t in tiers:
            _, f = alk_compile(expr, args, t)
            ak.numpy_eval(f, *cols, out=out)
            if ref is None:
                ref = out.copy()
            row[f"alk:{t}"] = best(lambda f=f, cols=cols: ak.numpy_eval(f, *cols, out=out), reps) / n * 1e9
        alk_best = min(row.values())
        for p, mk in PEERS.items():
            try:
                _, ev = mk(expr, args)
                got = np.asarray(ev(cols), dtype=float).reshape(-1)
                if not np.allclose(got, ref, rtol=1e-9, atol=1e-9, equal_nan=True):
                    row[p] = "wrong"
                    continue
                row[p] = best(lambda ev=ev, cols=cols: ev(cols), reps) / n * 1e9
            except Exception as exc:  # noqa: BLE001 - a peer failing is a result
                row[p] = f"fail ({type(exc).__name__})"
        results.setdefault("throughput", {})[name] = row
        cells = []
        for k in header[1:]:
            v = row[k]
            if isinstance(v, float):
                cells.append(f"{v:.2f}" + ("" if k.startswith("alk:") else f" ({v / alk_best:.1f}x)"))
            else:
                cells.append(v)
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"(symengine backend: {peer_symengine.backend})")


def compile_latency(results, sizes, budget):
    print("\n## Compile latency (expression -> ready function, incl. SymPy conversion), ms")
    tiers = alkahest_tiers()
    header = ["DAG nodes"] + [f"alk:{t}" for t in tiers] + ["symengine", "numba", "jax"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    slow = set()
    for size in sizes:
        expr = random_dag(size, seed=size)
        args = [x_s, y_s]
        row = {}
        for t in tiers:
            dt, _ = alk_compile(expr, args, t)
            row[f"alk:{t}"] = dt * 1e3
        for p in ("symengine", "numba", "jax"):
            if p in slow:
                row[p] = "skipped"
                continue
            try:
                t0 = time.perf_counter()
                _, ev = PEERS[p](expr, args)
                ev([np.ones(8), np.ones(8)])  # numba/jax compile lazily for real shapes
                dt = time.perf_counter() - t0
                row[p] = dt * 1e3
                if dt > budget:
                    slow.add(p)
            except Exception as exc:  # noqa: BLE001
                row[p] = f"fail ({type(exc).__name__})"
                slow.add(p)
        results.setdefault("compile_ms", {})[size] = row
        print(f"| {size} | " + " | ".join(f"{v:.1f}" if isinstance(v, float) else v for v in row.values()) + " |")


def scalar_calls(results, reps):
    print("\n## Scalar call from Python, f([a, b]) (microseconds per call)")
    expr = x_s * y_s + sp.sin(x_s) / y_s
    calls = 20_000
    row = {}
    for t in alkahest_tiers():
        _, f = alk_compile(expr, [x_s, y_s], t)
        row[f"alk:{t}"] = best(lambda f=f: [f([0.3, 1.7]) for _ in range(calls)], reps) / calls * 1e6
    try:
        import numba

        nf = numba.njit(sp.lambdify([x_s, y_s], expr, "math"))
        nf(0.3, 1.7)
        row["numba njit f(a, b)"] = best(lambda: [nf(0.3, 1.7) for _ in range(calls)], reps) / calls * 1e6
    except Exception as exc:  # noqa: BLE001
        row["numba njit f(a, b)"] = f"fail ({type(exc).__name__})"
    try:
        import symengine as se

        sf = se.Lambdify([x_s, y_s], [expr], real=True)
        row["symengine f([a, b])"] = best(lambda: [sf([0.3, 1.7]) for _ in range(calls)], reps) / calls * 1e6
    except Exception as exc:  # noqa: BLE001
        row["symengine f([a, b])"] = f"fail ({type(exc).__name__})"
    lf = sp.lambdify([x_s, y_s], expr, "math")
    row["sympy lambdify (math)"] = best(lambda: [lf(0.3, 1.7) for _ in range(calls)], reps) / calls * 1e6
    results["scalar_us"] = row
    for k, v in row.items():
        print(f"  {k:<28} {v:.3f}" if isinstance(v, float) else f"  {k:<28} {v}")


def parallel_scaling(results, reps, n):
    print(f"\n## numpy_eval_par scaling, {n:,} points (ms)")
    pool = ak.ExprPool()
    x = pool.symbol("x")
    cases = [
        ("sin(x)*cos(x)", ak.sin(x) * ak.cos(x)),
        ("exp(-x^2/2)cos(3x)", ak.exp(-(x**2) / 2) * ak.cos(3 * x)),
    ]
    xs = np.linspace(-3, 3, n)
    out = np.empty(n)
    for name, e in cases:
        f = ak.compile_expr(e, [x], ak.CompileConfig(expected_evals=n))
        serial = best(lambda f=f: ak.numpy_eval(f, xs, out=out), reps)
        row = {"numpy_eval": serial * 1e3}
        for t in range(1, (os.cpu_count() or 1) + 1):
            row[f"par threads={t}"] = best(lambda f=f, t=t: ak.numpy_eval_par(f, xs, out=out, threads=t), reps) * 1e3
        results.setdefault("parallel_ms", {})[name] = row
        print(f"  {name:<22} " + "  ".join(f"{k}: {v:.2f}" for k, v in row.items())
              + f"  (speed-up {serial * 1e3 / min(row.values()):.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    ap.add_argument("--json", help="write the measurements to this file")
    ap.add_argument(
        "--sections", nargs="*", default=["throughput", "compile", "scalar", "parallel"],
        choices=["throughput", "compile", "scalar", "parallel"],
    )
    ap.add_argument(
        "--optimize", choices=["default", "none", "speed", "accuracy"], default="default",
        help="CompileConfig(optimize=...) for alkahest compiles (default: the build's default)",
    )
    a = ap.parse_args()
    global OPTIMIZE
    OPTIMIZE = None if a.optimize == "default" else a.optimize
    reps = 3 if a.quick else 7
    n = 200_000 if a.quick else N
    results = {"machine": machine(), "features": ak.features(), "points": n,
               "optimize": ak.CompileConfig(optimize=OPTIMIZE).optimize}
    print(f"# Alkahest peer benchmark\nmachine: {results['machine']}\nfeatures: {results['features']}"
          f"\noptimize: {results['optimize']}")
    if "throughput" in a.sections:
        throughput(results, reps, n)
    if "compile" in a.sections:
        sizes = [10, 100, 1000] if a.quick else [10, 100, 1000, 10_000, 20_000]
        compile_latency(results, sizes, budget=5.0 if a.quick else 30.0)
    if "scalar" in a.sections:
        scalar_calls(results, reps)
    if "parallel" in a.sections:
        parallel_scaling(results, reps, n)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
