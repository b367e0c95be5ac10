"""Make the tables and the polynomial of the LLVM batch loop's vector log
(see crates/alkahest-llvm/src/codegen/log.rs), check them, and print them as
Rust constants.

    python scripts/log_tables.py

m in [3/4, 3/2) falls in one of 32 subintervals by its bits 47-51: 16 of width
1/32 in [1, 3/2) (index j = 0..15), 16 of width 1/64 in [3/4, 1) (j = 16..31).
The two that touch 1 (j = 0 and 31) get 1/c = 1. Every other one gets a double
1/c next to the reciprocal of its middle for which -log(1/c) lies within
2^-65 of a multiple of 2^-42: LOG_HI is that multiple, so k LN2_HI + LOG_HI[j]
is exact (LN2_HI is log 2 rounded to a multiple of 2^-42) and no table of
remainders is needed. Candidates are stepped one ulp at a time, alternating
either side of the reciprocal, filtered with the platform's long double log
(x87 on x86-64) and confirmed with mpmath. The script also checks that r = m/c
- 1 stays in [-1/64, 1/32] and that |k LN2_HI + LOG_HI[j]| >= |r| wherever the
sum is not 0 (the routine's Fast2Sum), then fits Q with log(1 + r) = r +
r^2 Q(r) by Chebyshev interpolation of degree 7 on [-1/64, 1/32] and reports
its largest relative error (2^-58.0).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from chebyshev import interpolate, rust_array

mp.mp.prec = 300

# How far -log(1/c) may be from its multiple of 2^-42, and how many
# candidates a subinterval may try.
TOLERANCE = mp.mpf(2) ** -65
BATCH = 1 << 16
MAX_BATCHES = 512
DEGREE = 7
R_LO, R_HI = mp.mpf(-1) / 64, mp.mpf(1) / 32


def bounds(j: int) -> tuple[mp.mpf, mp.mpf]:
    """Subinterval j of [3/4, 3/2)."""
    if j < 16:
        return 1 + mp.mpf(j) / 32, 1 + mp.mpf(j + 1) / 32
    return mp.mpf(1) / 2 + mp.mpf(j) / 64, mp.mpf(1) / 2 + mp.mpf(j + 1) / 64


def round_to(x: mp.mpf, e: int) -> mp.mpf:
    """x rounded to a multiple of 2^e."""
    return mp.nint(x * mp.mpf(2) ** -e) * mp.mpf(2) ** e


def search(j: int) -> float:
    """The first candidate 1/c for subinterval j (see the module doc)."""
    a, b = bounds(j)
    inv0 = float(2 / (a + b))
    ulp = np.spacing(inv0)
    for batch in range(MAX_BATCHES):
        i = np.arange(batch * BATCH, (batch + 1) * BATCH)
        steps = np.where(i % 2 == 1, -(i // 2), i // 2)
        cands = inv0 + steps.astype(np.float64) * ulp
        t = -np.log(cands.astype(np.longdouble)) * np.longdouble(2.0**42)
        near = np.abs(t - np.round(t)) < np.longdouble(2.0**-22)
        for inv in cands[near]:
            inv = float(inv)
            logc = -mp.log(mp.mpf(inv))
            if abs(logc - round_to(logc, -42)) >= TOLERANCE:
                continue
            if a * inv - 1 >= R_LO and b * inv - 1 <= -R_LO:
                return inv
    raise SystemExit(f"no 1/c for subinterval {j}")


def log1p_tail() -> list[float]:
    """Q's coefficients, lowest power first, and its error printed."""

    def g(r: mp.mpf) -> mp.mpf:
        return mp.mpf(-0.5) if r == 0 else (mp.log1p(r) - r) / r**2

    coef = interpolate(g, R_LO, R_HI, DEGREE)
    worst = mp.mpf(0)
    for i in range(2001):
        r = R_LO + (R_HI - R_LO) * i / 2000
        if r == 0:
            continue
        p = sum(mp.mpf(q) * r**k for k, q in enumerate(coef))
        worst = max(worst, abs((r + r * r * p - mp.log1p(r)) / mp.log1p(r)))
    print(f"// Q: largest relative error 2^{float(mp.log(worst, 2)):.1f}")
    return coef


def main() -> None:
    invs, his = [], []
    worst = mp.mpf(0)
    for j in range(32):
        inv = 1.0 if j in (0, 31) else search(j)
        a, b = bounds(j)
        logc = -mp.log(mp.mpf(inv))
        hi = round_to(logc, -42)
        assert mp.mpf(float(hi)) == hi
        r0, r1 = a * inv - 1, b * inv - 1
        assert R_LO <= r0 and r1 <= R_HI, j
        assert hi == 0 or abs(hi) >= max(abs(r0), abs(r1)), j
        if j not in (0, 31):
            worst = max(worst, abs(logc - hi) / min(abs(mp.log(a)), abs(mp.log(b))))
        invs.append(inv)
        his.append(float(hi))
    print(f"// LOG_HI: largest error relative to log m 2^{float(mp.log(worst, 2)):.1f}")
    print(rust_array("LOG_INV", invs))
    print(rust_array("LOG_HI", his))
    print(rust_array("LOG1P_Q", log1p_tail()))


if __name__ == "__main__":
    main()
