"""Ready-to-call latency and time to full speed (issue 17).

SymPy expression in, callable out, for small formulas. For alkahest with
``expected_evals=1_000_000`` (LLVM planned): *ready* is ``from_sympy`` plus
``compile_expr`` returning a callable on its interim tier, *full* is when
the background LLVM build has been swapped in (``f.wait()``). Also alkahest
with ``wait=True`` (LLVM before returning), symjit's ``compile_func`` and
SymEngine's ``Lambdify`` (LLVM backend when the wheel has it, else lambda).
Each rep uses fresh symbols (and a fresh pool), so no cache helps; prints the
median and best of --reps in milliseconds.

Usage: python benches/bench_tierup.py [--reps 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import sympy as sp

import alkahest as ak

FORMULAS = {
    "x**2 + sin(y)": lambda x, y, z: x**2 + sp.sin(y),
    "sin(x)*cos(x)": lambda x, y, z: sp.sin(x) * sp.cos(x),
    "poly 2x^3+5xy-1": lambda x, y, z: 2 * x**3 + 5 * x * y - 1,
    "mixed (issue 17)": lambda x, y, z: (
        sp.exp(-x * y / 4) * sp.log(1 + z)
        + sp.sqrt(x + y**2 + z) * sp.tanh(x - z)
        + x**y / (1 + z**1.5)
    ),
}


def fresh(k: int):
    return sp.symbols(f"x{k} y{k} z{k}")


def alkahest_times(make, k, wait):
    x, y, z = fresh(k)
    e = make(x, y, z)
    syms = sorted(e.free_symbols, key=lambda s: s.name)
    t0 = time.perf_counter()
    pool = ak.ExprPool()
    ae = ak.from_sympy(e, pool)
    vs = [pool.symbol(s.name) for s in syms]
    f = ak.compile_expr(ae, vs, ak.CompileConfig(expected_evals=1_000_000, wait=wait))
    ready = time.perf_counter() - t0
    tier = f.tier
    f.wait()
    full = time.perf_counter() - t0
    return ready, full, tier


def symjit_time(make, k):
    import symjit

    x, y, z = fresh(k)
    e = make(x, y, z)
    syms = sorted(e.free_symbols, key=lambda s: s.name)
    t0 = time.perf_counter()
    symjit.compile_func(syms, [e], use_threads=False)
    return time.perf_counter() - t0


def symengine_time(make, k):
    import symengine as se

    x, y, z = fresh(k)
    e = make(x, y, z)
    syms = sorted(e.free_symbols, key=lambda s: s.name)
    t0 = time.perf_counter()
    try:
        se.Lambdify(syms, [e], backend="llvm", cse=True, real=True)
    except Exception:  # noqa: BLE001 - wheel without LLVM: lambda backend
        se.Lambdify(syms, [e], cse=True, real=True)
    return time.perf_counter() - t0


def fmt(ts):
    return f"{statistics.median(ts) * 1e3:7.2f} ({min(ts) * 1e3:6.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    print("ms: median (best) of", args.reps, "reps")
    hdr = f"{'formula':18} {'ready':>16} {'interim':9} {'full speed':>16} {'wait=True':>16}"
    print(hdr + f" {'symjit':>16} {'SymEngine':>16}")
    k = 0
    for name, make in FORMULAS.items():
        ready, full, waited, sj, se_ = [], [], [], [], []
        tier = "?"
        for _ in range(args.reps):
            k += 1
            r, fu, tier = alkahest_times(make, k, False)
            ready.append(r)
            full.append(fu)
            k += 1
            waited.append(alkahest_times(make, k, True)[0])
            k += 1
            try:
                sj.append(symjit_time(make, k))
            except ImportError:
                pass
            k += 1
            try:
                se_.append(symengine_time(make, k))
            except ImportError:
                pass
        row = f"{name:18} {fmt(ready):>16} {tier:9} {fmt(full):>16} {fmt(waited):>16}"
        row += f" {fmt(sj) if sj else '-':>16} {fmt(se_) if se_ else '-':>16}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
