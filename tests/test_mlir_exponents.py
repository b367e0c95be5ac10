"""The MLIR tier lowers constant exponents by the kernel's rule, as every other
tier does: an exact integer exponent is a multiplication chain (1/chain when
negative), an exact 1/2 is sqrt, and every float exponent stays libm's pow. So
with ``optimize="none"`` it agrees with ``eval_expr`` bit for bit at the inputs
where pow and its rewrites differ: ``(-inf)**0.5`` is +inf (sqrt gives NaN),
``(-0.0)**0.5`` is +0.0 (sqrt gives -0.0), ``1e156**-2.0`` is 1e-312 (1/(x*x)
gives 0).
"""

from __future__ import annotations

import math
import struct

import pytest

import alkahest as ak

if not ak.features().get("mlir"):
    pytest.skip("this build has no MLIR backend (cargo feature 'mlir')", allow_module_level=True)

SPECIAL = [-math.inf, -0.0, 0.0, 1e156, -1e156, 1e-160, math.nan, math.inf, -2.5, 2.0, 5e-324]


def bits(v: float) -> int:
    return -1 if math.isnan(v) else struct.unpack("<q", struct.pack("<d", v))[0]


def cases(x):
    return {
        "x**0.5": x**0.5,
        "x**-0.5": x**-0.5,
        "x**-2.0": x**-2.0,
        "x**2.0": x**2.0,
        "x**3.0": x**3.0,
        "x**3": x**3,
        "x**-1": x**-1,
        "x**-2": x**-2,
        "x**(1/2)": ak.sqrt(x),
        "3*x**-2.0": 3 * x**-2.0,
        "x**2.0 + x": x**2.0 + x,
    }


@pytest.mark.parametrize("name", list(cases(ak.ExprPool().symbol("x"))))
def test_mlir_constant_powers_match_eval_expr_bit_for_bit(pool, name):
    x = pool.symbol("x")
    e = cases(x)[name]
    cfg = ak.CompileConfig(optimize="none", force_tier="mlir", wait=True)
    f = ak.compile_expr(e, [x], cfg)
    assert f.tier == "mlir"
    for v in SPECIAL:
        got, want = f(v), ak.eval_expr(e, {x: v})
        assert bits(got) == bits(want), (name, v, got, want)
