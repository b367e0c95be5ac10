"""Bits of error on FPBench-style formulas (issue 16): as written, default
(``optimize="speed"``) and ``optimize="accuracy"``, with compile times.

The formulas are the Hamming "Numerical Methods" chapter 3 set as FPBench
lists them (cancellation in differences of nearby values, quadratic roots,
exp/log near 0), written here from their mathematical definitions. Inputs
are sampled as Herbie does: uniformly over the bit patterns of finite
doubles (both signs), or within the formula's precondition where it has one.
Ground truth is mpmath at escalating precision (1280, 2560, 5120 bits:
enough to resolve any cancellation between doubles, whose exponents span
~2100 bits) until the value rounded to float64 is stable; points whose true value
is not a finite double are skipped. Error is log2(1 + ulps between the
result and the truth), averaged over the points (a NaN where the truth is
finite counts 64 bits).

Usage: python benches/bench_fpbench.py [--points 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import struct
import time

import mpmath
import numpy as np

import alkahest as ak


class _Mp:
    """mpmath spellings of the functions the formulas use."""

    sqrt = staticmethod(mpmath.sqrt)
    cbrt = staticmethod(mpmath.cbrt)
    exp = staticmethod(mpmath.exp)
    log = staticmethod(mpmath.log)
    sin = staticmethod(mpmath.sin)
    cos = staticmethod(mpmath.cos)
    tan = staticmethod(mpmath.tan)
    atan = staticmethod(mpmath.atan)


BIG = (1.0, 1e300)
# name: (variables, formula over a function namespace F, precondition per variable or None)
FORMULAS = {
    "2sqrt": ("x", lambda F, x: F.sqrt(x + 1) - F.sqrt(x), {"x": (0.0, 1e300)}),
    "2frac": ("x", lambda F, x: 1 / (x + 1) - 1 / x, None),
    "2isqrt": ("x", lambda F, x: 1 / F.sqrt(x) - 1 / F.sqrt(x + 1), {"x": (1e-300, 1e300)}),
    "2cbrt": ("x", lambda F, x: F.cbrt(x + 1) - F.cbrt(x), None),
    "2sin": ("x e", lambda F, x, e: F.sin(x + e) - F.sin(x), {"x": (-1e4, 1e4), "e": (-1e4, 1e4)}),
    "2cos": ("x e", lambda F, x, e: F.cos(x + e) - F.cos(x), {"x": (-1e4, 1e4), "e": (-1e4, 1e4)}),
    "2tan": ("x e", lambda F, x, e: F.tan(x + e) - F.tan(x), {"x": (-1e4, 1e4), "e": (-1e4, 1e4)}),
    "2log": ("n", lambda F, n: F.log(n + 1) - F.log(n), {"n": (0.0, 1e300)}),
    "2atan": ("n", lambda F, n: F.atan(n + 1) - F.atan(n), None),
    "3frac": ("x", lambda F, x: 1 / (x + 1) - 2 / x + 1 / (x - 1), None),
    "expm1": ("x", lambda F, x: F.exp(x) - 1, {"x": (-700.0, 700.0)}),
    "expq2": ("x", lambda F, x: F.exp(x) / (F.exp(x) - 1), {"x": (-700.0, 700.0)}),
    "expax": ("a x", lambda F, a, x: F.exp(a * x) - 1, {"a": (-26.0, 26.0), "x": (-26.0, 26.0)}),
    "logq": ("e", lambda F, e: F.log((1 - e) / (1 + e)), {"e": (-1.0, 1.0)}),
    "qlog": ("x", lambda F, x: F.log(1 - x) / F.log(1 + x), {"x": (-1.0, 1.0)}),
    "sqrtexp": (
        "x",
        lambda F, x: F.sqrt((F.exp(2 * x) - 1) / (F.exp(x) - 1)),
        {"x": (-300.0, 300.0)},
    ),
    "exp2": ("x", lambda F, x: F.exp(x) - 2 + F.exp(-x), {"x": (-700.0, 700.0)}),
    "cos2": ("x", lambda F, x: (1 - F.cos(x)) / (x * x), {"x": (-1e4, 1e4)}),
    "tanhf": ("x", lambda F, x: (1 - F.cos(x)) / F.sin(x), {"x": (-1e4, 1e4)}),
    "sintan": ("x", lambda F, x: (x - F.sin(x)) / (x - F.tan(x)), {"x": (-1e4, 1e4)}),
    "invcot": ("x", lambda F, x: 1 / x - 1 / F.tan(x), {"x": (-0.026, 0.026)}),
    "quadp": (
        "a b c",
        lambda F, a, b, c: (-b + F.sqrt(b * b - 4 * a * c)) / (2 * a),
        {"a": (-1e100, 1e100), "b": (-1e100, 1e100), "c": (-1e100, 1e100)},
    ),
    "quadm": (
        "a b c",
        lambda F, a, b, c: (-b - F.sqrt(b * b - 4 * a * c)) / (2 * a),
        {"a": (-1e100, 1e100), "b": (-1e100, 1e100), "c": (-1e100, 1e100)},
    ),
    "2nthrt(n=3)": ("x", lambda F, x: (x + 1) ** (1 / 3) - x ** (1 / 3), {"x": (0.0, 1e300)}),
}


def ordinal(v: float) -> int:
    """Doubles mapped to integers in order (adjacent doubles differ by 1)."""
    (i,) = struct.unpack("<q", struct.pack("<d", v))
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def bits(approx: float, truth: float) -> float:
    if math.isnan(approx):
        return 64.0
    return math.log2(1 + abs(ordinal(approx) - ordinal(truth)))


def sample(rng, lo: float | None, hi: float | None, n: int) -> np.ndarray:
    """Uniform over the bit patterns of the finite doubles in [lo, hi]."""
    out = np.empty(n)
    k = 0
    while k < n:
        raw = rng.integers(0, 2**64 - 1, size=4 * n, dtype=np.uint64).view(np.float64)
        raw = raw[np.isfinite(raw)]
        if lo is not None:
            raw = raw[(raw >= lo) & (raw <= hi)]
        take = min(n - k, raw.size)
        out[k : k + take] = raw[:take]
        k += take
    return out


def sample_in(rng, lo, hi, n):
    if lo is None:
        return sample(rng, None, None, n)
    # Bit patterns inside [lo, hi]: draw ordinals uniformly between the bounds.
    a, b = ordinal(lo), ordinal(hi)
    ords = rng.integers(a, b + 1, size=n, dtype=np.int64)
    vals = np.where(ords >= 0, ords, (-ords) | np.int64(-0x8000000000000000))
    return vals.astype(np.int64).view(np.float64)


def truth(make, point) -> float | None:
    prev = None
    for prec in (1280, 2560, 5120):
        with mpmath.workprec(prec):
            try:
                v = make(_Mp, *[mpmath.mpf(p) for p in point])
            except (ZeroDivisionError, ValueError):
                return None
            if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                return None
            d = float(v)
        if prev is not None and d == prev:
            return d if math.isfinite(d) else None
        prev = d
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    modes = ("none", "speed", "accuracy")
    print(f"{args.points} points per formula; mean bits of error; compile ms")
    print(
        f"{'formula':13} {'written':>8} {'default':>8} {'accuracy':>9}   "
        f"{'ms none':>8} {'ms default':>10} {'ms accuracy':>11}  accuracy form"
    )
    rows = []
    for name, (names, make, pre) in FORMULAS.items():
        names = names.split()
        cols = [sample_in(rng, *(pre[v] if pre else (None, None)), args.points) for v in names]
        pts, want = [], []
        for p in zip(*cols, strict=True):
            t = truth(make, p)
            if t is not None:
                pts.append(p)
                want.append(t)
        if not pts:
            print(f"{name:13} no valid points")
            continue
        xs = [np.array(c) for c in zip(*pts, strict=True)]
        errs, times, form = {}, {}, ""
        for mode in modes:
            pool = ak.ExprPool()
            vs = [pool.symbol(v) for v in names]
            e = make(ak, *vs)
            dom = {v: pre[v] for v in names} if pre else None
            t0 = time.perf_counter()
            f = ak.compile_expr(
                e, vs, ak.CompileConfig(optimize=mode, force_tier="interpreter", domain=dom)
            )
            times[mode] = (time.perf_counter() - t0) * 1e3
            got = ak.numpy_eval(f, *xs)
            errs[mode] = float(np.mean([bits(float(g), w) for g, w in zip(got, want, strict=True)]))
            if mode == "accuracy":
                form = str(f.explain().get("expr", ""))
        rows.append((name, errs))
        print(
            f"{name:13} {errs['none']:8.2f} {errs['speed']:8.2f} {errs['accuracy']:9.2f}   "
            f"{times['none']:8.2f} {times['speed']:10.2f} {times['accuracy']:11.1f}  {form[:60]}",
            flush=True,
        )
    lossy = [(n, e) for n, e in rows if e["none"] >= 4]
    if lossy:
        mean_acc = sum(e["accuracy"] for _, e in lossy) / len(lossy)
        worse = [n for n, e in rows if e["accuracy"] > e["none"] + 1]
        worse_d = [n for n, e in rows if e["speed"] > e["none"] + 1]
        print(
            f"\nformulas losing >= 4 bits as written: {len(lossy)}; their mean with accuracy: "
            f"{mean_acc:.2f} bits (target <= 3)"
        )
        print(f"accuracy worse than written by > 1 bit: {worse or 'none'}")
        print(f"default worse than written by > 1 bit: {worse_d or 'none'}")


if __name__ == "__main__":
    main()
