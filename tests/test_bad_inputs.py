"""Every bad input raises a typed exception (an AlkahestError that is also
the matching builtin), with a message that says what is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest

import alkahest as ak


@pytest.fixture
def xy(pool):
    return pool.symbol("x"), pool.symbol("y")


def test_wrong_arity(pool, xy):
    x, y = xy
    f = ak.compile_expr(x + y, [x, y])
    with pytest.raises(ak.ArityError, match="expected 2 input value"):
        f([1.0])
    with pytest.raises(TypeError):
        f([1.0, 2.0, 3.0])
    with pytest.raises(ak.ArityError):
        ak.numpy_eval(f, np.zeros(3))


def test_unbound_symbol(pool, xy):
    x, y = xy
    with pytest.raises(ak.UnboundSymbolError, match="'y'"):
        ak.compile_expr(x + y, [x])
    with pytest.raises(ak.UnboundSymbolError, match="'y'"):
        ak.eval_expr(x + y, {x: 1.0})
    with pytest.raises(ValueError):
        ak.eval_expr(x + y, {x: 1.0})


def test_bad_variable_lists(pool, xy):
    x, y = xy
    with pytest.raises(ak.NotASymbolError):
        ak.compile_expr(x + y, [x, y + 1])
    with pytest.raises(ak.DuplicateSymbolError):
        ak.compile_expr(x + y, [x, y, x])
    with pytest.raises(ak.ConversionError):
        ak.compile_expr(x, ["x"])
    with pytest.raises(ak.ConversionError):
        ak.eval_expr(x, {"x": 1.0})


def test_non_numeric_values(pool, xy):
    x, y = xy
    f = ak.compile_expr(x + y, [x, y])
    with pytest.raises(ak.ConversionError, match="input #1"):
        f([1.0, "a"])
    with pytest.raises(ak.ConversionError):
        ak.eval_expr(x, {x: "3"})
    with pytest.raises(ak.ConversionError, match="dtype"):
        ak.numpy_eval(f, np.array(["a", "b"]), np.zeros(2))
    with pytest.raises(ak.ConversionError, match="dtype"):
        ak.numpy_eval(f, np.zeros(2, dtype=complex), np.zeros(2))
    with pytest.raises(TypeError, match="unsupported operand"):
        x + "a"  # noqa: B018
    with pytest.raises(ak.ConversionError):
        pool.integer(1.5)
    with pytest.raises(ak.ConversionError):
        ak.sin("x")


def test_mismatched_lengths_and_out(pool, xy):
    x, y = xy
    f = ak.compile_expr(x * y, [x, y])
    with pytest.raises(ak.ShapeError, match="same shape"):
        ak.numpy_eval(f, np.zeros(3), np.zeros(4))
    with pytest.raises(ak.ShapeError):
        ak.numpy_eval(f, np.zeros(3), np.zeros(3), out=np.zeros(4))
    with pytest.raises(ak.ConversionError):
        ak.numpy_eval(f, np.zeros(3), np.zeros(3), out=np.zeros(3, dtype=np.float32))
    with pytest.raises(ak.ShapeError):
        ak.numpy_eval(f, np.zeros(3), np.zeros(3), out=np.zeros(6)[::2])
    with pytest.raises(ak.ShapeError):
        f.call_batch(np.zeros((3, 5)))
    with pytest.raises(ak.ShapeError):
        f.call_bulk(np.zeros(5))


def test_empty_arrays(pool, xy):
    x, y = xy
    f = ak.compile_expr(x * y, [x, y])
    out = ak.numpy_eval(f, np.zeros(0), np.zeros(0))
    assert out.shape == (0,)
    assert f.call_batch(np.zeros((2, 0))).shape == (0,)


def test_mixed_pools():
    p1, p2 = ak.ExprPool(), ak.ExprPool()
    x1, x2 = p1.symbol("x"), p2.symbol("x")
    with pytest.raises(ak.PoolMismatchError):
        x1 + x2  # noqa: B018
    with pytest.raises(ak.PoolMismatchError):
        ak.compile_expr(x1, [x2])
    with pytest.raises(ak.PoolMismatchError):
        ak.eval_expr(x1, {x2: 1.0})
    with pytest.raises(ak.PoolMismatchError):
        ak.CompileCache().compile(x1, [x1], p2)
    with pytest.raises(ak.PoolMismatchError):
        ak.horner(x1, x2)
    with pytest.raises(ValueError):
        ak.atan2(x1, x2)
    assert x1 != x2


def test_other_bad_values(pool, xy):
    x, _ = xy
    with pytest.raises(ak.ZeroDenominatorError):
        pool.rational(1, 0)
    with pytest.raises(ZeroDivisionError):
        pool.rational(1, 0)
    with pytest.raises(ak.InvalidNameError):
        pool.symbol("")
    with pytest.raises(ak.NotPolynomialError):
        ak.horner(ak.sin(x), x)
    with pytest.raises(ak.NotASymbolError):
        ak.horner(x, x + 1)
    with pytest.raises(ak.OptionError):
        ak.CompileConfig(force_tier="gpu")
    with pytest.raises(ak.OptionError):
        ak.CompileConfig(optimize="fast")
    with pytest.raises(ak.InvalidNameError):
        ak.emit_c(x, [x], fn_name="not valid")
    with pytest.raises(ak.InvalidNameError):
        ak.emit_c(x, [x], fn_name="double")
    q = pool.symbol("my var")
    with pytest.raises(ak.InvalidNameError):
        ak.emit_c(q, [q])
    with pytest.raises(ak.ConversionError):
        bool(x)
    with pytest.raises(ak.ConversionError):
        pow(x, 2, 3)


def test_ieee_semantics(pool, xy):
    x, _ = xy
    assert math.isnan(ak.eval_expr(ak.sqrt(x), {x: -1.0}))
    assert ak.eval_expr(ak.log(x), {x: 0.0}) == -math.inf
    assert ak.eval_expr(1 / x, {x: 0.0}) == math.inf
    assert ak.eval_expr(1 / x, {x: -0.0}) == -math.inf
    f = ak.compile_expr(x * 2, [x])
    out = ak.numpy_eval(f, np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324]))
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == -np.inf
    assert out[3] == 0 and math.copysign(1, out[3]) == -1 and out[4] == 1e-323
    m = ak.compile_expr(ak.Min(x, pool.float(1.0)), [x])
    assert math.isnan(m([math.nan]))


def test_no_panic_reaches_python(pool):
    # Huge exact powers stay unevaluated instead of exhausting memory.
    big = pool.integer(10) ** pool.integer(10**9)
    assert big.kind == "pow"
    e = pool.integer(2) ** pool.integer(-1)
    assert e.value == __import__("fractions").Fraction(1, 2)
