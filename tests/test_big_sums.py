"""Long sums and products built term by term (issue 15).

Each ``s = s + t`` used to copy the whole flat sum into a new pool node
(quadratic time and pool memory: minutes and gigabytes at 100,000 terms).
The builders now keep a sum longer than ``FLATTEN_LIMIT`` (64) operands as
one nested operand, so a loop builds a chain of groups. These tests bound
the pool by node counts and bytes, never by time, and check that the
nested groups mean the same value everywhere: every tier, printing,
SymPy, derivatives, Horner form and pool files.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import sympy as sp

import alkahest as ak

FEATS = ak.features()
TIERS = ["interpreter"]
TIERS += [
    t
    for t, feat in (("cranelift", "cranelift"), ("llvm", "jit"), ("mlir", "mlir"))
    if FEATS.get(feat)
]
# Most operands one loop step may build (FLATTEN_LIMIT + 1 is 65; the limit
# may be tuned, but never past a small constant).
STEP = 257


def loop_sum(terms):
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    return s


def test_loop_sum_stays_small_per_step():
    # Fails fast on the old builders: the 2,000-operand top node.
    pool = ak.ExprPool()
    n = 2000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    terms = [(i % 7 + 2) * x for i, x in enumerate(xs)]
    base = len(pool.to_bytes())
    s = loop_sum(terms)
    assert len(s.args) <= STEP
    assert s.kind == "add"
    # The whole pool, intermediates included, in the file format: about
    # 2 bytes per child slot, so linear means ~100 bytes per term here
    # (the old builders left n^2/2 slots: 4 MB).
    grown = len(pool.to_bytes()) - base
    assert grown <= 300 * n, grown


def test_100k_terms_in_a_loop():
    pool = ak.ExprPool()
    n = 100_000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    terms = [(i % 7 + 2) * x for i, x in enumerate(xs)]
    nodes = len(pool)
    s = loop_sum(terms)
    assert len(pool) - nodes == n - 1  # one node per step
    assert len(s.args) <= STEP
    s2 = sum(terms)  # builtin sum starts from 0: the same groups
    assert s2 == s
    p = xs[0]
    for x in xs[1:]:
        p = p * x
    assert len(p.args) <= STEP
    assert len(pool) - nodes <= 3 * n
    # Linear pool file: 100,000 terms in a few MB (the old pool: 10^10 slots).
    assert len(pool.to_bytes()) <= 400 * n


def test_sub_div_and_reversed_loops(pool):
    n = 3000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    s, p = pool.integer(0), pool.integer(1)
    for i, x in enumerate(reversed(xs)):
        s = x - s if i % 2 else s - x
        p = x / p if i % 3 == 0 else p * x
        assert len(s.args) <= STEP and len(p.args) <= STEP


def wavy(pool, n):
    """sum_i c_i * sin(x + i/7) * y**(i % 3): a few thousand distinct terms in
    two variables."""
    x, y = pool.symbol("x"), pool.symbol("y")
    terms = [
        (((i * 37) % 11) - 5) / 4 * ak.sin(x + pool.rational(i, 7)) * y ** (i % 3) for i in range(n)
    ]
    return x, y, terms


def reference(n, x, y):
    return math.fsum(
        (((i * 37) % 11) - 5) / 4 * math.sin(x + i / 7) * y ** (i % 3) for i in range(n)
    )


@pytest.mark.parametrize("tier", TIERS)
def test_nested_sum_has_the_flat_sums_value_on_every_tier(tier):
    pool = ak.ExprPool()
    n = 1500
    x, y, terms = wavy(pool, n)
    nested = loop_sum(terms)
    flat = ak.add(*terms)
    assert len(flat.args) == n and len(nested.args) < n
    cfg = ak.CompileConfig(force_tier=tier, wait=True)
    fn, ff = ak.compile_expr(nested, [x, y], cfg), ak.compile_expr(flat, [x, y], cfg)
    pts = [(0.3, 1.1), (-2.0, 0.7), (5.0, -1.3)]
    for px, py in pts:
        want = reference(n, px, py)
        scale = math.fsum(abs(((i * 37) % 11) - 5) / 4 * abs(py) ** (i % 3) for i in range(n))
        a, b = fn(px, py), ff(px, py)
        assert abs(a - want) <= 1e-12 * scale, (tier, a, want)
        assert abs(b - want) <= 1e-12 * scale, (tier, b, want)
        assert abs(ak.eval_expr(nested, {x: px, y: py}) - want) <= 1e-12 * scale
    batch = ak.numpy_eval(fn, np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    assert np.allclose(batch, [fn(*p) for p in pts], rtol=0, atol=1e-12 * scale)


def test_printing_and_sympy_see_one_flat_sum():
    pool = ak.ExprPool()
    n = 400
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    s = pool.integer(0)
    for i, x in enumerate(xs):
        s = s + x if i % 2 else s - 3 * x
    text = str(s)
    assert "(" not in text and "+ -" not in text
    want = sum(sp.Symbol(f"x{i}") if i % 2 else -3 * sp.Symbol(f"x{i}") for i in range(n))
    assert sp.sympify(text) == want
    assert ak.to_sympy(s) == want
    # A product chain prints as one product, its coefficients folded.
    p = pool.integer(1)
    for x in xs:
        p = p * (2 * x)
    ptext = str(p)
    assert "(" not in ptext and ptext.startswith(f"{2**n}*")
    assert ak.to_sympy(p) == sp.Mul(2**n, *[sp.Symbol(f"x{i}") for i in range(n)])
    # Round trip: SymPy's flat sum comes back as one flat node.
    back = ak.from_sympy(want, pool)
    assert len(back.args) == n


def test_to_sympy_of_a_long_chain():
    # 20,000 terms: SymPy handed every group separately would re-flatten the
    # chain below at each of its ~300 levels (millions of argument copies).
    pool = ak.ExprPool()
    n = 20_000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    s = loop_sum(xs)
    out = ak.to_sympy(s)
    assert isinstance(out, sp.Add) and len(out.args) == n
    # A group also used on its own (under sin) is converted once and kept.
    inner = s.args[-1]
    assert inner.kind == "add"
    both = ak.to_sympy(ak.sin(inner) + s)
    assert both.has(sp.sin(ak.to_sympy(inner)))


def test_calculus_and_horner_on_nested_sums(pool):
    x = pool.symbol("x")
    n = 300
    terms = [(k + 1) * x**k for k in range(n)]
    s = loop_sum(terms)
    assert len(s.args) < n
    sx = sp.Symbol("x")
    poly = sum((k + 1) * sx**k for k in range(n))
    assert sp.expand(ak.to_sympy(ak.diff(s, x)) - sp.diff(poly, sx)) == 0
    # Horner form sees through the groups: the flat sum's form, same value.
    h = ak.horner(s, x)
    assert h == ak.horner(ak.from_sympy(poly, pool), x)
    for v in (0.5, -0.9):
        want = float(poly.subs(sx, sp.Rational(v)))
        assert math.isclose(ak.eval_expr(h, {x: v}), want, rel_tol=1e-12)
        assert math.isclose(ak.eval_expr(s, {x: v}), want, rel_tol=1e-12)


def test_pool_files_and_pickles_keep_nested_sums(pool):
    n = 1000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    s = loop_sum([(i % 5 + 1) * x for i, x in enumerate(xs)])
    (s2,) = ak.ExprPool().exprs_from_bytes(pool.to_bytes([s]))
    assert str(s2) == str(s) and s2.content_key == s.content_key
    s3 = pickle.loads(pickle.dumps(s))
    assert s3.content_key == s.content_key


def test_bulk_add_and_mul_build_one_flat_node(pool):
    n = 5000
    xs = [pool.symbol(f"x{i}") for i in range(n)]
    s = ak.add(*xs, 2, 0.5, pool.rational(1, 3))
    assert s.kind == "add" and len(s.args) == n + 1  # one folded constant
    assert s.args[0].value == 2.5 + 1 / 3
    m = ak.mul(*xs[:100], 3, pool.rational(1, 3))
    assert m.kind == "mul" and len(m.args) == 100
    # Equal to the loop for short sums, the same value for long ones.
    assert ak.add(*xs[:40]) == loop_sum(xs[:40])
    vals = {x: (i % 13) / 7 for i, x in enumerate(xs)}
    assert math.isclose(ak.eval_expr(ak.add(*xs), vals), ak.eval_expr(loop_sum(xs), vals))
    # SymPy's flat sums come back flat.
    big = sp.Add(*sp.symbols("y0:3000"))
    assert len(ak.from_sympy(big, pool).args) == 3000
    # Bad operands are typed errors.
    with pytest.raises(ak.ConversionError):
        ak.add()
    with pytest.raises(ak.ConversionError):
        ak.add(1, 2)
    with pytest.raises(ak.ConversionError):
        ak.mul(xs[0], "a")
    with pytest.raises(ak.ConditionError):
        ak.add(xs[0], xs[1] < xs[2])
    with pytest.raises(ak.PoolMismatchError):
        ak.add(xs[0], ak.ExprPool().symbol("x0"))


@pytest.mark.skipif(not FEATS.get("mlir"), reason="this build has no MLIR tier")
def test_mlir_polynomial_and_rational_recognition_on_nested_sums(pool):
    # The MLIR tier recognizes polynomials (Horner) and rational functions
    # one level at a time: nested groups must still give the right value.
    x = pool.symbol("x")
    n = 300
    poly = loop_sum([((i % 9) - 4) * x ** (i % 11) for i in range(n)])
    assert any(a.kind == "add" for a in poly.args)
    exprs = [poly, 3 / (poly + 2000), poly * x**-2 + 1 / (x**2 + 1), ak.sin(poly)]
    cfg_m = ak.CompileConfig(force_tier="mlir", wait=True)
    cfg_i = ak.CompileConfig(force_tier="interpreter")
    for e in exprs:
        fm, fi = ak.compile_expr(e, [x], cfg_m), ak.compile_expr(e, [x], cfg_i)
        for v in (0.7, -1.1, 0.95):
            a, b = fm(v), fi(v)
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12), (str(e)[:60], v, a, b)


@pytest.mark.skipif(not FEATS.get("egraph"), reason="this build has no e-graph")
def test_egraph_on_nested_sums(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    s = loop_sum([(i % 5 + 1) * x ** (i % 4) * y ** (i % 3) for i in range(200)])
    assert any(a.kind == "add" for a in s.args)
    t = ak.simplify(s)
    f = ak.compile_expr(s, [x, y], ak.CompileConfig(optimize="speed", wait=True))
    for px, py in ((0.3, 1.7), (-1.2, 0.4)):
        want = ak.eval_expr(s, {x: px, y: py})
        assert ak.eval_expr(t, {x: px, y: py}) == pytest.approx(want, rel=1e-12)
        assert f(px, py) == pytest.approx(want, rel=1e-12)
