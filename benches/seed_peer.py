"""The seed's published ``alkahest`` (3.12 on PyPI) as a peer of bench_peers.py.

It has the same import name as this project, so it runs in its own virtualenv
and process: bench_peers.py starts this script with that venv's Python
(``--seed-python``), hands it one job as JSON on stdin, and reads one JSON line
back. Make the venv with::

    python3 -m venv .venv-seed && .venv-seed/bin/pip install 'alkahest==3.12.*' numpy sympy

A job names the formula (a SymPy ``srepr`` string, or a random DAG's size and
seed, rebuilt here from ``dag_peers``) and either a ``.npy`` file per input
column (throughput: the result is written next to them, and the best of
``reps`` timed ``numpy_eval`` calls reported) or none (compile only). Compile
time is SymPy -> the seed's expressions + ``compile_expr`` with
``expected_evals`` set to the batch size (so it is compiled natively up front)
+ one call.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import sympy as sp

import alkahest as seed


def build(job, pool, symbols):
    # benches/, for dag_peers and sympy_tree (this runs in the seed's venv).
    sys.path.insert(0, job["benches"])
    if job["form"] == "dag":
        import dag_peers as dp

        def lift(fn):
            # The DAG's leaves include float constants: sin(0.7) needs an Expr.
            return lambda a: fn(pool.float(a) if isinstance(a, float) else a)

        ns = {k: lift(getattr(seed, k)) for k in ("sin", "cos", "exp", "tanh")}
        return dp.Dag(job["n_ops"], job["seed"]).python_function(ns)(symbols["x"], symbols["y"])
    ns = {name: getattr(sp, name) for name in dir(sp) if not name.startswith("_")}
    from sympy_tree import sympy_convert

    funcs = {getattr(sp, k): getattr(seed, k) for k in ("sin", "cos", "exp", "log", "tanh")}

    def number(e):
        return pool.integer(int(e)) if e.is_Integer else pool.float(float(e))

    expr = eval(job["srepr"], ns)  # our own srepr string
    return sympy_convert(expr, symbols, funcs, number)


def main() -> None:
    job = json.loads(sys.stdin.readline())
    pool = seed.ExprPool()
    symbols = {a: pool.symbol(a) for a in job["args"]}
    cols = [np.load(p) for p in job.get("columns", [])]
    n = len(cols[0]) if cols else job.get("warm_points", 16)
    t0 = time.perf_counter()
    e = build(job, pool, symbols)
    f = seed.compile_expr(e, [symbols[a] for a in job["args"]], expected_evals=n)
    f([0.5] * len(job["args"]))
    compile_s = time.perf_counter() - t0
    out = {"compile_s": compile_s, "version": seed.__version__}
    if cols:
        res = seed.numpy_eval(f, *cols)
        best = float("inf")
        for _ in range(job["reps"]):
            t = time.perf_counter()
            seed.numpy_eval(f, *cols)
            best = min(best, time.perf_counter() - t)
        out["seconds"] = best
        np.save(job["result"], np.asarray(res, dtype=float).reshape(-1))
    if job.get("scalar_calls"):
        k = job["scalar_calls"]
        pt = [0.3, 1.7][: len(job["args"])]
        best = float("inf")
        for _ in range(job["reps"]):
            t = time.perf_counter()
            for _ in range(k):
                f(pt)
            best = min(best, time.perf_counter() - t)
        out["scalar_s"] = best / k
    print(json.dumps(out))


if __name__ == "__main__":
    main()
