"""Differential tests: compiled tape vs eval_expr vs mpmath at 50 digits.

Tolerance: float64 evaluation of an expression with n operations has an
absolute error of at most about n * eps * (largest intermediate magnitude)
(every rounding, and libm's sub-ulp errors, scaled by what can cancel), so we
allow 64 * n * eps * max|intermediate| — a bound that random well-conditioned
points satisfy and that any wrong operation breaks by many orders.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import alkahest as ak
from exprgen import build, exprs, magnitude, size

points = st.tuples(*[st.floats(-3, 3, allow_nan=False, allow_infinity=False)] * 3)


AS_WRITTEN = ak.CompileConfig(optimize="none")


@given(exprs, points)
def test_compiled_matches_eval_expr_and_mpmath(tree, pt):
    """As written, compiled code is eval_expr bit for bit; the default
    (canonicalized) compile is held to the same mpmath bound."""
    pool = ak.ExprPool()
    expr, ref, vars_ = build(tree, pool)
    exact = ak.compile_expr(expr, vars_, AS_WRITTEN)
    got = exact(list(pt))
    via_eval = ak.eval_expr(expr, dict(zip(vars_, pt, strict=True)))
    assert got == via_eval or (math.isnan(got) and math.isnan(via_eval))
    with mpmath.workdps(50):
        env = {"x": mpmath.mpf(pt[0]), "y": mpmath.mpf(pt[1]), "z": mpmath.mpf(pt[2])}
        want = ref(env)
        scale = magnitude(tree, env)
    tol = 64 * size(tree) * 2.0**-52 * float(scale)
    assert abs(got - float(want)) <= tol, (str(expr), pt, got, float(want))
    canon = ak.compile_expr(expr, vars_)(list(pt))
    assert abs(canon - float(want)) <= tol, (str(expr), pt, canon, float(want))


@given(exprs, st.integers(1, 700))
def test_batch_equals_scalar(tree, n):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    f = ak.compile_expr(expr, vars_)
    rng = np.random.default_rng(n)
    cols = rng.uniform(-3, 3, size=(3, n))
    batch = ak.numpy_eval(f, *cols)
    scalar = np.array([f(list(cols[:, i])) for i in range(n)])
    np.testing.assert_array_equal(batch, scalar)
    np.testing.assert_array_equal(ak.numpy_eval_par(f, *cols), batch)
