"""Multi-core batch throughput (issue 17, item 4): ``numpy_eval_par`` against
numexpr, symjit and CasADi with their own threads, and JAX/XLA's own
threading, at 1 and N threads, in one run. Prints Mpoints/s and the speed-up
of N threads over 1 for each tool.

JAX cannot change its thread count inside a process, so it is run in a
subprocess per setting (``XLA_FLAGS`` intra-op threads); its time excludes
that start-up. Every tool computes the same SymPy formula; results are
checked against alkahest's (1e-9 relative, 1e-12 absolute: the mixed formula cancels).

Usage: python benches/bench_parallel.py [--points 4000000] [--threads 2] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import sympy as sp

import alkahest as ak

X, Y, Z = sp.symbols("x y z")
FORMULAS = {
    "sin(x)*cos(x)": sp.sin(X) * sp.cos(X),
    "x**2 + sin(y)": X**2 + sp.sin(Y),
    "mixed (issue 17)": sp.exp(-X * Y / 4) * sp.log(1 + Z)
    + sp.sqrt(X + Y**2 + Z) * sp.tanh(X - Z)
    + X**Y / (1 + Z**1.5),
}


def best(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def inputs(n, k):
    rng = np.random.default_rng(7)
    cols = [rng.uniform(0.1, 2.0, n) for _ in range(k)]
    return cols


def run_alkahest(expr, syms, cols, threads, reps):
    pool = ak.ExprPool()
    f = ak.compile_expr(
        ak.from_sympy(expr, pool),
        [pool.symbol(s.name) for s in syms],
        ak.CompileConfig(expected_evals=10**8, wait=True),
    )
    out = np.empty_like(cols[0])
    if threads == 1:
        t = best(lambda: ak.numpy_eval(f, *cols, out=out), reps)
    else:
        t = best(lambda: ak.numpy_eval_par(f, *cols, out=out, threads=threads), reps)
    return t, out.copy()


def run_numexpr(expr, syms, cols, threads, reps):
    import numexpr as ne

    ne.set_num_threads(threads)
    src = str(expr).replace("**", "**")
    env = {s.name: c for s, c in zip(syms, cols, strict=True)}
    out = np.empty_like(cols[0])
    t = best(lambda: ne.evaluate(src, local_dict=env, out=out), reps)
    return t, out.copy()


def run_symjit(expr, syms, cols, threads, reps):
    import symjit

    f = symjit.compile_func(syms, [expr], use_threads=threads > 1)
    t = best(lambda: f(*cols), reps)
    return t, np.asarray(f(*cols)).reshape(-1)


def run_casadi(expr, syms, cols, threads, reps):
    import casadi as ca

    cs = [ca.SX.sym(s.name) for s in syms]
    env = dict(zip([s.name for s in syms], cs, strict=True))
    src = str(expr).replace("log", "ca.log").replace("exp", "ca.exp").replace("sqrt", "ca.sqrt")
    src = src.replace("sin", "ca.sin").replace("cos", "ca.cos").replace("tanh", "ca.tanh")
    e = eval(src, {"ca": ca}, env)  # noqa: S307 - our own formula text
    fn = ca.Function("f", cs, [e])
    n = cols[0].size
    mapped = fn.map(n, "thread", threads) if threads > 1 else fn.map(n, "serial")
    rows = [c.reshape(1, -1) for c in cols]
    t = best(lambda: mapped(*rows), reps)
    return t, np.asarray(mapped(*rows)).reshape(-1)


JAX_CHILD = """
import json, sys, time
import numpy as np, sympy as sp, jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
X, Y, Z = sp.symbols("x y z")
expr = sp.sympify(sys.argv[1], locals={"x": X, "y": Y, "z": Z})
syms = sorted(expr.free_symbols, key=lambda s: s.name)
n, reps = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
cols = [rng.uniform(0.1, 2.0, n) for _ in syms]
f = jax.jit(sp.lambdify(syms, expr, "jax"))
f(*cols).block_until_ready()
ts = []
for _ in range(reps):
    t = time.perf_counter(); f(*cols).block_until_ready(); ts.append(time.perf_counter() - t)
print(json.dumps(min(ts)))
"""


def run_jax(expr, syms, cols, threads, reps):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}"
    )
    r = subprocess.run(
        [sys.executable, "-c", JAX_CHILD, str(expr), str(cols[0].size), str(reps)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1])
    return json.loads(r.stdout.strip().splitlines()[-1]), None


TOOLS = {
    "alkahest": run_alkahest,
    "numexpr": run_numexpr,
    "symjit": run_symjit,
    "casadi": run_casadi,
    "jax": run_jax,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=4_000_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    n, nt = args.points, args.threads
    print(f"{n} points, best of {args.reps}; Mpoints/s at 1 and {nt} threads, speed-up")
    for name, expr in FORMULAS.items():
        syms = sorted(expr.free_symbols, key=lambda s: s.name)
        cols = inputs(n, len(syms))
        ref = None
        line = [f"{name:18}"]
        for tool, run in TOOLS.items():
            try:
                t1, v1 = run(expr, syms, cols, 1, args.reps)
                tn, vn = run(expr, syms, cols, nt, args.reps)
            except Exception as err:  # noqa: BLE001 - a missing peer is reported, not fatal
                line.append(f"{tool}: n/a ({type(err).__name__})")
                continue
            if tool == "alkahest":
                ref = v1
            for v in (v1, vn):
                if v is not None and ref is not None:
                    np.testing.assert_allclose(v, ref, rtol=1e-9, atol=1e-12, err_msg=tool)
            line.append(f"{tool} {n / t1 / 1e6:6.1f} / {n / tn / 1e6:6.1f} ({t1 / tn:4.2f}x)")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
