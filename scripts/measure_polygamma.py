"""Measure digamma / trigamma against mpmath (the numbers in docs/functions.md).

    .venv/bin/python scripts/measure_polygamma.py [points per region]

Prints, per region, the largest and the median error in ulps of the
correctly rounded result, for the interpreter (= every CPU tier's scalar
call: the same operations) and for the batch entry of the fastest tier
built (LLVM's loop may use libmvec's log/tan/sin). On the negative axis the
error is also given relative to the size of the reflection's terms
(|psi(1-x)| + |pi cot(pi x)|), the quantity that bounds it there.
"""

from __future__ import annotations

import math
import sys

import mpmath
import numpy as np

import alkahest as ak

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
ROOT = 1.4616321449683622


def ulps(got: float, want) -> float:
    w = float(want)
    if got == w or (math.isinf(w) and got == w):
        return 0.0
    return abs(got - w) / math.ulp(w)


def regions(rng):
    return {
        "|x - 1.4616| < 1e-3": ROOT + rng.uniform(-1e-3, 1e-3, N),
        "(0, 1)": rng.uniform(0, 1, N),
        "[1, 10)": rng.uniform(1, 10, N),
        "[10, 1e4)": 10 ** rng.uniform(1, 4, N),
        "[1e4, 1e300)": 10 ** rng.uniform(4, 300, N),
        "[1e-150, 0.1)": 10 ** rng.uniform(-150, -1, N),
        "(-10, 0)": rng.uniform(-10, 0, N),
        "(-1e5, -10)": -(10 ** rng.uniform(1, 5, N)),
    }


def main() -> None:
    pool = ak.ExprPool()
    x = pool.symbol("x")
    interp = ak.CompileConfig(force_tier="interpreter", optimize="none")
    batch_tier = "llvm" if ak.features().get("jit") else "interpreter"
    batch = ak.CompileConfig(force_tier=batch_tier, optimize="none")
    refs = {"digamma": mpmath.digamma, "trigamma": lambda v: mpmath.psi(1, v)}
    print(f"{N} points per region; batch tier: {batch_tier}")
    for name, ref in refs.items():
        make = getattr(ak, name)
        f = ak.compile_expr(make(x), [x], interp)
        g = ak.compile_expr(make(x), [x], batch)
        for region, xs in regions(np.random.default_rng(2026)).items():
            xs = xs[~((xs <= 0) & (xs == np.floor(xs)))]
            b = ak.numpy_eval(g, xs)
            e1, e2, rel = [], [], []
            with mpmath.workdps(40):
                for v, bv in zip(xs, b, strict=True):
                    v = float(v)
                    want = ref(mpmath.mpf(v))
                    if not abs(want) < 1.7e308:
                        continue
                    s = f([v])
                    e1.append(ulps(s, want))
                    e2.append(ulps(float(bv), want))
                    if v < 0 and name == "digamma":
                        size = abs(mpmath.digamma(1 - mpmath.mpf(v))) + abs(
                            mpmath.pi * mpmath.cot(mpmath.pi * mpmath.mpf(v))
                        )
                        rel.append(float(abs(s - want) / (size * 2.0**-52)))
            extra = f"; vs term size max {max(rel):.2f}" if rel else ""
            print(
                f"{name:9s} {region:20s} scalar max {max(e1):9.2f} median {np.median(e1):5.2f}"
                f" | batch max {max(e2):9.2f}{extra}"
            )


if __name__ == "__main__":
    main()
