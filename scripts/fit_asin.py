"""Fit the polynomial of the LLVM batch loop's vector asin and acos (see
crates/alkahest-llvm/src/codegen/asin.rs), and print it as a Rust constant.

    python scripts/fit_asin.py [DEGREE]      (default 11)

asin(v) = v + v w P(w) with w = v^2: P is (asin(sqrt w) - sqrt w) / w^(3/2),
smooth on [0, 1/4] (its nearest singularity is at w = 1), interpolated at
DEGREE + 1 Chebyshev nodes of w with mpmath at 200 bits and written as monomial
coefficients (lowest first). The script reports the largest relative error of
v + v w P(w) against asin(v) over 2,000 points (degree 11: 2^-54.0).
"""

from __future__ import annotations

import sys

import mpmath as mp
from chebyshev import interpolate, rust_array

mp.mp.prec = 200


def p_exact(w: mp.mpf) -> mp.mpf:
    """(asin(sqrt w) - sqrt w) / w^(3/2), with its limit 1/6 at w = 0."""
    if w == 0:
        return mp.mpf(1) / 6
    s = mp.sqrt(w)
    return (mp.asin(s) - s) / (w * s)


def main() -> None:
    deg = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    lo, hi = mp.mpf(0), mp.mpf(1) / 4
    coef = interpolate(p_exact, lo, hi, deg)
    worst = mp.mpf(0)
    for i in range(1, 2001):
        w = hi * i / 2000
        s = mp.sqrt(w)
        p = sum(mp.mpf(q) * w**k for k, q in enumerate(coef))
        worst = max(worst, abs((s + s * w * p - mp.asin(s)) / mp.asin(s)))
    print(f"// degree {deg}: largest relative error 2^{float(mp.log(worst, 2)):.1f}")
    print(rust_array("ASIN_P", coef))


if __name__ == "__main__":
    main()
