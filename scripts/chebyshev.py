"""Helpers shared by the scripts that fit the LLVM batch loop's vector
polynomials (log_tables.py, fit_asin.py): Chebyshev interpolation with
mpmath, and printing doubles as a Rust array by their bits."""

from __future__ import annotations

import struct
from collections.abc import Callable

import mpmath as mp


def interpolate(f: Callable[[mp.mpf], mp.mpf], lo, hi, degree: int) -> list[float]:
    """The polynomial of `degree` through `f` at the Chebyshev nodes of
    `[lo, hi]`, as monomial coefficients (lowest power first) rounded to
    doubles; at mpmath's current precision."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    n = degree + 1
    nodes = [mid + half * mp.cos(mp.pi * (2 * i + 1) / (2 * n)) for i in range(n)]
    a = mp.matrix([[t**k for k in range(n)] for t in nodes])
    c = mp.lu_solve(a, mp.matrix([f(t) for t in nodes]))
    return [float(c[k]) for k in range(n)]


def rust_array(name: str, xs: list[float]) -> str:
    """`const name: [f64; n] = [...]` with each double by its bits."""
    rows = []
    for x in xs:
        h = f"{struct.unpack('<Q', struct.pack('<d', x))[0]:016X}"
        rows.append(f"    f64::from_bits(0x{h[0:4]}_{h[4:8]}_{h[8:12]}_{h[12:16]}),")
    return f"const {name}: [f64; {len(xs)}] = [\n" + "\n".join(rows) + "\n];"
